"""Runbooks: the operations procedures in docs/runbooks/, shown in the console with live checks and
actions.

The modules, in the order they depend on each other (each imports only those above it):

* `params.py`: the parameters a check or action line may take, their validation, expectations
  (`expect=`) and the scope (`customer=`, `po=`) as a Scope;
* `loader.py`: the files, the Markdown convention (Runbook, Step, Directive) and safe rendering;
* `checks.py`: the live checks (reads: they call selectors only);
* `actions.py`: the links and buttons into the console;
* `validate.py`: each runbook's check and action lines against the known checks and actions, and the
  runbooks as the console reads them (`runbook_get`, `runbook_list`).

Walkthrough reads are in syncapp/selectors/runbooks.py, the walkthrough services in
syncapp/services/runbooks.py.
"""
