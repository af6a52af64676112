// The library product: one import gives a Swift program every public module of Shoal.
@_exported import Bencode
@_exported import Metainfo
@_exported import Storage
@_exported import PeerWire
@_exported import Tracker
@_exported import TrackerServer
@_exported import LocalDiscovery
@_exported import DHT
@_exported import Engine
