# tests/winside
