"""Background work: the same job functions run in-process (embedded) or in arq workers."""
