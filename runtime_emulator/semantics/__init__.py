"""Functional semantics of every instruction, one module per instruction family.

`program.SEMANTICS` maps each mnemonic to a binder `bind(machine, fields) -> run`: called once
per distinct instruction when the program is prepared, it makes what does not depend on data
(views of the `Machine` memories through `regions.py`, per-code tables, constants) and returns
a function of no arguments that does the instruction's work each time it runs. `fields` are the
decoded field values (`isa.encoding` canonical form: enums as integer codes, float32 immediates
as Python floats). A binder may assume the instruction passed `footprint.check_bounds`, and
raises nothing: errors that depend on data (or that must come in run order) are raised by
`run`. Families with no per-instruction preparation worth making keep a plain
`f(machine, fields)`, bound by `program` to run at run time.
"""
