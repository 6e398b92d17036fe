# Slipway's version: the one place it is written. `slipway version`,
# GET /api/v1/info and the Debian package (slipway_<VERSION>_amd64.deb) all
# take it from here (service/version:version makes it a C++ header).
VERSION = "0.5.0"
