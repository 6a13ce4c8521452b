# winside/win32: the Win32 backend and winside.exe (mingw-w64 builds).
