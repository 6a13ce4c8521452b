# tests/win32: Win32 backend unit tests and Wine end-to-end tests.
