"""The IR passes: one module per pass, named after its pipeline name (`dce.py` is "dce").

Each module defines one `Pass` subclass (see `compiler.ir.passes`); the registry finds them
by walking this package, so adding a pass touches no other file.
"""
