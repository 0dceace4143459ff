"""The one exception type every vitc component raises for bad input.

The command line catches `VitcError` and prints its message with a non-zero exit, so a
message must say on its own what was wrong and where (node, op, instruction, offset).
Anything else escaping to the command line is a bug in vitc.
"""


class VitcError(Exception):
    """A user-facing error: bad input, an unsupported model, a failed check."""
