// Package packaging makes and proves the Debian packages community-gateway and
// community-cloud: it derives the configuration file each package installs under /etc from
// the repository's example configuration (Derive), and its tests build the .deb files with
// `make package`, inspect them with dpkg-deb, verify the systemd units with systemd-analyze
// and install and upgrade the gateway package in a throw-away root.
package packaging
