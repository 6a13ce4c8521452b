# bench: change-event latency and loss.
