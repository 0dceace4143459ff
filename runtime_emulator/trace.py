"""Chrome trace-event JSON of a timed run (opens in Perfetto and chrome://tracing).

One process, one track (thread) per unit, one complete ("X") event per instruction with its
pc, disassembly and layer name in `args`, and one flow arrow per dependency token from the
instruction that pushed it to the one that popped it (each end placed at its instruction's
start, so that the viewer binds it to that slice). Timestamps are microseconds at the configuration's
clock, so Perfetto's time axis reads in real time; `args.start_cycle` keeps the exact cycle.
"""

from isa.disassembler import format_instruction
from runtime_emulator.units import CONTROL, UNITS


def trace_events(ops, timeline, layer_names: list[str], clock_ghz: float) -> dict:
    us_per_cycle = 1e-3 / clock_ghz
    events = [{"name": "process_name", "ph": "M", "pid": 0, "tid": 0, "args": {"name": "vitc accelerator"}}]
    events += [
        {"name": "thread_name", "ph": "M", "pid": 0, "tid": u, "args": {"name": unit}}
        for u, unit in enumerate(UNITS)
    ]
    starts, ends = timeline.start.tolist(), timeline.end.tolist()
    for op in ops:
        if op.unit == CONTROL:
            continue
        start, end = starts[op.pc], ends[op.pc]
        layer = layer_names[op.layer] if op.layer < len(layer_names) else str(op.layer)
        events.append({
            "name": op.mnemonic,
            "cat": UNITS[op.unit],
            "ph": "X",
            "pid": 0,
            "tid": op.unit,
            "ts": start * us_per_cycle,
            "dur": (end - start) * us_per_cycle,
            "args": {"pc": op.pc, "layer": layer, "start_cycle": start, "instruction": format_instruction(op.instruction)},
        })
    for flow_id, (pusher, popper) in enumerate(timeline.tokens):
        events.append({"name": "token", "cat": "token", "ph": "s", "id": flow_id, "pid": 0,
                       "tid": ops[pusher].unit, "ts": starts[pusher] * us_per_cycle})
        events.append({"name": "token", "cat": "token", "ph": "f", "bp": "e", "id": flow_id, "pid": 0,
                       "tid": ops[popper].unit, "ts": starts[popper] * us_per_cycle})
    return {"traceEvents": events, "displayTimeUnit": "ns"}
