# tests/events: change-event conformance and real watcher clients.
