"""The errors the IR core raises: all are `VitcError`, so `vitc` prints them as one line.

`IRError` is bad IR (a verifier rule, a bad type); `IRParseError` is bad `.vir` text and carries
the line and column; `PipelineError` is a bad pass pipeline string or pass option.
"""

from isa.errors import VitcError


class IRError(VitcError):
    """The IR breaks a rule: a type, an op's operand/attribute/result rule, SSA or naming."""


class IRParseError(IRError):
    """`.vir` text that does not parse; the message starts with `file:line:column`."""


class PipelineError(VitcError):
    """A pass pipeline string or a pass option that cannot be used."""
