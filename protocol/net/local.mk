# protocol/net
