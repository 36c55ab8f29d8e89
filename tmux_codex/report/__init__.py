"""What a task did: git changes, test runs, tokens, the last message.

- :mod:`.task`: a task's report, from its log and its workdir (the entry point);
- :mod:`.summary`: the :class:`~.summary.Report` and :func:`~.summary.build`;
  :mod:`.text` renders it for people;
- :mod:`.changes`: files changed in the workdir (git);
- :mod:`.rollout`: Codex's rollout file (tokens, last message, command outputs);
- :mod:`.tokens`: token usage; :mod:`.failure`: the error a task ended with;
- :mod:`.testrun` and :mod:`.runners`: test runs in command output, one module
  per test runner (adding a runner is adding one module: see :mod:`.runners`).
"""
