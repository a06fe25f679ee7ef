// Placeholder: the registry simulator arrives with issue 3.
