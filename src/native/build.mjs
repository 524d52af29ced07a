// Placeholder until the win32 engine lands: builds nothing.
