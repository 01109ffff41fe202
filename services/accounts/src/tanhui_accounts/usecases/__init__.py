"""accounts' writes, one function each, all run inside a unit of work (`uow` first).

Routers and event handlers call these and nothing else that writes: this is the only place that
sequences locks, rules and events. Refusals are typed errors (domain/errors.py); constraint
violations leave the unit of work as 409s named by their constraint (store/constraints.py).
"""
