import Metainfo
