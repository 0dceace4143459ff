"""Subcommands of `vitc`.

Each module here is one subcommand. It defines:
  NAME: str                              the subcommand name (`vitc NAME ...`)
  HELP: str                              one line for `vitc --help`
  def add_arguments(parser) -> None      declares its arguments on an argparse parser
  def run(args) -> int                   does the work, returns the exit code
`compiler.cli.main` discovers the modules, so adding a subcommand touches no other file.
"""
