# fsbridge
