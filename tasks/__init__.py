"""Task plugins: declarative MMEB-V2 task specs (installed as the ``umeval_tasks`` package).

Each module registers specs with :func:`umeval.core.registry.register_tasks`; the registry imports every module
here, and outside packages can add tasks through the ``umeval.tasks`` entry point group.
"""
