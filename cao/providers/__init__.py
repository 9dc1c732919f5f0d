"""Agent CLI providers: one module per CLI, all behind cao.providers.base.Provider."""
