"""What every layer may use: user-given paths opened safely (``files``), ranges of every
number a person gives (``limits``), the shipped resources, memory checks (``allocator``),
the one JSON reader (``json_input``) and the app's own code in a child process (``child``)."""
