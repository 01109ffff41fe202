"""verification's writes, one function each, run inside a unit of work (`uow` first).

The routers (through `Idempotency.execute`) and the event handlers call these and nothing else to
write. Each use case takes its locks, applies the domain's rules (typed errors: NotFound,
Forbidden, Conflict, Invalid), changes state by conditional updates and stages its events with
`uow.emit`; the unit of work commits it all or nothing.
"""
