#!/usr/bin/env bash
# Local single-node Kubernetes cluster for kubectl-layering's end-to-end tests.
#
#   local-cluster/cluster.sh build    install Debian packages, build binaries and images (cached)
#   local-cluster/cluster.sh up       build (cached) + start the cluster + addons + the local registry,
#                                     with the service images pushed to it (as CI pushes to ECR)
#   local-cluster/cluster.sh down     stop everything it started and remove its state
#   local-cluster/cluster.sh status   what is running
#
# No docker engine exists on the project's machines, so
# the cluster is assembled from upstream parts: Kubernetes v1.32.4 server binaries
# built from the k8s.io/kubernetes Go module (local-cluster/k8s-build), etcd,
# containerd, runc and the CNI plugins from Debian, CoreDNS and metrics-server
# built with `go install`, and images written FROM scratch by tools/mkimage.
# The service images go through a real OCI registry on loopback (Debian's
# docker-registry, the CNCF distribution registry): pushed with crane
# (go-containerregistry), pulled by containerd, as on EKS from ECR.
#
# Where things live:
#   built binaries and images  ${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-layering/local-cluster/<k8s version>/
#                              (outside the repo: a fresh clone on the same machine reuses them)
#   runtime state              <repo>/.local-cluster/ (gitignored; removed by `down`, except logs/)
#   admin kubeconfig           <repo>/.local-cluster/kubeconfig (server https://127.0.0.1:6443)
#   local registry             http://localhost:5000 (data in <repo>/.local-cluster/registry/)
#   local volume data          <repo>/.local-cluster/volumes/{input,output,logs} (uid/gid 1000),
#                              linked as /var/lib/kubectl-layering/local-volumes for the local overlay's hostPath PVs
#
# Must run as root: it manages iptables, mounts, network links and containerd.
set -Eeuo pipefail

# ---------------------------------------------------------------------------
# Versions and addresses. The Go module proxy reachable here is filtered: these
# versions are the ones that resolve (k8s v1.32.13's staging modules do not).
K8S_VERSION=v1.32.4
COREDNS_VERSION=v1.12.1
METRICS_SERVER_VERSION=v0.9.0
# containerd's sandbox_image; our pause image is tagged with this name because
# the real one cannot be pulled.
PAUSE_IMAGE=registry.k8s.io/pause:3.10
COREDNS_IMAGE=kubectl-layering.local/coredns:$COREDNS_VERSION
METRICS_SERVER_IMAGE=kubectl-layering.local/metrics-server:$METRICS_SERVER_VERSION
PROBE_IMAGE=kubectl-layering.local/probe:v1
# The local registry: the local overlay's images are REGISTRY/layering-detection-<service>.
REGISTRY=localhost:5000
REGISTRY_LISTEN=127.0.0.1:5000

NODE_NAME=local-node
# No kernel modules (so no dummy link) on these machines: the node IP is a /32 on
# lo. It must be outside 127/8 (the kubelet and Endpoints reject loopback).
NODE_IP=10.250.0.1
SVC_CIDR=10.96.0.0/16
KUBERNETES_SVC_IP=10.96.0.1
DNS_SVC_IP=10.96.0.10 # = clusterIP of kube-dns in addons/coredns.yaml
POD_CIDR=10.244.0.0/16
POD_SUBNET=10.244.0.0/24 # the one node's share of POD_CIDR (host-local IPAM)
BRIDGE=cni0
CNI_NETWORK=kubectl-layering-local
GUARD_OUT=LOCAL-CLUSTER-GUARD-OUT # mangle chains of ours, see net_guards
GUARD_IN=LOCAL-CLUSTER-GUARD-IN

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
STATE=$REPO/.local-cluster
CACHE=${LOCAL_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubectl-layering/local-cluster/$K8S_VERSION}
BIN=$CACHE/bin
IMAGES=$CACHE/images
LOGS=$STATE/logs
PIDS=$STATE/pids
PKI=$STATE/pki
SOCK=$STATE/containerd/containerd.sock
KUBECONFIG_ADMIN=$STATE/kubeconfig
# Data of static local/hostPath PersistentVolumes lives in the state dir; the local
# overlay's hostPath PVs name the fixed path HOST_VOLUMES (manifests cannot know
# where the repo is cloned), which is a symlink to it while the cluster is up.
VOLUMES=$STATE/volumes
HOST_VOLUMES=/var/lib/kubectl-layering/local-volumes
VOLUME_DIRS=(input output logs) # embedded/manifests/components/local/persistent-volumes.yaml
VOLUME_OWNER=1000:1000          # the services' uid/gid, like the EFS access points
LOCK=/run/lock/kubectl-layering-local-cluster.lock

# $BIN last: a kubectl is built there only when the machine has none.
export PATH=/usr/local/go/bin:/usr/sbin:/sbin:$PATH:$BIN
# The proxy has no checksum-database entries for these modules (go.sum is committed).
export GONOSUMDB=k8s.io,sigs.k8s.io/metrics-server${GONOSUMDB:+,$GONOSUMDB} CGO_ENABLED=0
export DEBIAN_FRONTEND=noninteractive
APT_PACKAGES=(containerd runc containernetworking-plugins docker-registry etcd-server conntrack iptables iproute2 socat openssl curl util-linux procps ca-certificates)

# ---------------------------------------------------------------------------
# Progress, timing and failure reporting.
T0=$(date +%s.%N)
STEP="start"
STEP_T0=$T0
STEP_LOGS=() # logs whose tail explains a failure of the current step

since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
step() { # step NAME [LOG...]: announce a step
	STEP=$1
	shift
	STEP_LOGS=("$@")
	STEP_T0=$(date +%s.%N)
	printf '[%6ss] %s ...\n' "$(since "$T0")" "$STEP"
}
ok() { printf '[%6ss]   ok: %s (%ss)%s\n' "$(since "$T0")" "$STEP" "$(since "$STEP_T0")" "${1:+ - $1}"; }
note() { printf '           %s\n' "$*"; }
show_logs() {
	local l
	for l in "$@"; do
		[ -s "$l" ] || continue
		echo "----- last 40 lines of $l -----" >&2
		tail -n 40 "$l" >&2
		echo "-----" >&2
	done
}
die() {
	trap - ERR
	printf '[%6ss] FAILED: %s: %s\n' "$(since "$T0")" "$STEP" "$*" >&2
	show_logs "${STEP_LOGS[@]}"
	echo "Logs: $LOGS/. Clean up with: make cluster-down" >&2
	exit 1
}
on_err() { die "command failed (exit $1) at ${BASH_SOURCE[1]##*/}:$2: $3"; }
trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR

need_root() {
	[ "$(id -u)" -eq 0 ] || { STEP="preflight"; die "must run as root: it manages iptables, mounts, network links and containerd (try: sudo make cluster)"; }
}

# Only one cluster per machine: addresses, ports, the bridge and iptables chains are machine-wide.
take_lock() {
	mkdir -p "$(dirname "$LOCK")"
	exec 9>"$LOCK"
	flock -n 9 || { STEP="preflight"; die "another cluster.sh is running (lock $LOCK)"; }
}

kc() { kubectl --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }
ctrk() { ctr --address "$SOCK" --namespace k8s.io "$@"; }

# ---------------------------------------------------------------------------
# Processes: every one we start is recorded as "<pid> <exe>" in $PIDS/<name>;
# stop/alive check the exe too, so a recycled pid is never touched.
start_proc() { # start_proc NAME CMD...
	local name=$1
	shift
	local exe
	exe=$(readlink -f "$(command -v "$1")")
	# setsid: own session, so the component outlives `make` and no terminal signal reaches it.
	# Every descriptor above stderr closed: the component must not inherit (and so
	# hold for its lifetime) our lock or a caller's, e.g. `flock FILE make cluster`.
	(
		for fd in /proc/self/fd/*; do
			fd=${fd##*/}
			if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
		done 2>/dev/null
		exec setsid "$@" </dev/null >"$LOGS/$name.log" 2>&1
	) &
	echo "$! $exe" >"$PIDS/$name"
}
proc_pid() { # proc_pid NAME -> pid if that process is alive and still runs the recorded exe
	local pid exe
	[ -f "$PIDS/$1" ] || return 1
	read -r pid exe <"$PIDS/$1" || return 1
	[ -n "$pid" ] && [ "$(readlink -f "/proc/$pid/exe" 2>/dev/null || true)" = "$exe" ] && echo "$pid"
}
alive() { proc_pid "$1" >/dev/null; }
# running PID: the process exists and is not a zombie (our components are
# reparented to PID 1 once cluster.sh exits, which may reap them late).
running() {
	local state
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null || true)
	[ -n "$state" ] && [ "$state" != Z ]
}
stop_proc() { # stop_proc NAME: SIGTERM, wait up to 10s, then SIGKILL
	local pid i how=SIGTERM
	if pid=$(proc_pid "$1"); then
		kill "$pid" 2>/dev/null || true
		for ((i = 0; i < 40; i++)); do
			running "$pid" || break
			sleep 0.25
		done
		if running "$pid" && kill -9 "$pid" 2>/dev/null; then how=SIGKILL; fi
		printf '           stopped %s (pid %s, %s, %ss)\n' "$1" "$pid" "$how" "$(awk -v n="$i" 'BEGIN { print n / 4 }')"
	fi
	rm -f "$PIDS/$1"
}

# wait_until SECONDS DESCRIPTION COMPONENT CMD...: poll CMD every 0.25s; fail fast,
# with the component's log, if the component process dies meanwhile.
wait_until() {
	local secs=$1 what=$2 comp=$3 i
	shift 3
	for ((i = 0; i < secs * 4; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		if [ -n "$comp" ] && ! alive "$comp"; then
			[[ " ${STEP_LOGS[*]} " == *" $LOGS/$comp.log "* ]] || STEP_LOGS+=("$LOGS/$comp.log")
			die "$comp exited while waiting for: $what"
		fi
		sleep 0.25
	done
	die "timed out after ${secs}s waiting for: $what"
}

COMPONENTS=(registry containerd etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)

# ---------------------------------------------------------------------------
# build: Debian packages, binaries and images. Everything lands in $CACHE.

apt_packages() {
	step "Debian packages" "$LOGS/apt.log"
	local missing=() p
	for p in "${APT_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		ok "all installed"
		return
	fi
	note "installing: ${missing[*]}"
	apt-get update >"$LOGS/apt.log" 2>&1
	apt-get install -y --no-install-recommends "${missing[@]}" >>"$LOGS/apt.log" 2>&1
	ok
}

# A stamp records what a cached binary was built from; a mismatch means rebuild.
stamp_ok() { [ -f "$BIN/.$1.stamp" ] && [ "$(cat "$BIN/.$1.stamp")" = "$2" ]; }

build_k8s() {
	local cmds=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy)
	# kubectl comes with the machine image here; build it only where it is missing.
	command -v kubectl >/dev/null || cmds+=(kubectl)
	local ld="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1"
	ld+=" -X k8s.io/component-base/version.gitMinor=32 -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"
	local stamp c pkgs=() absent=0
	stamp="$(go version) $ld ${cmds[*]} $(cat "$HERE/k8s-build/go.mod" "$HERE/k8s-build/go.sum" | sha256sum)"
	for c in "${cmds[@]}"; do
		[ -x "$BIN/$c" ] || absent=1
		pkgs+=("k8s.io/kubernetes/cmd/$c")
	done
	step "Kubernetes $K8S_VERSION server binaries (go build; ~5 min with an empty Go build cache)" "$LOGS/build-k8s.log"
	if [ $absent -eq 0 ] && stamp_ok k8s "$stamp"; then
		ok "cached in $BIN"
		return
	fi
	rm -f "$BIN/.k8s.stamp"
	(cd "$HERE/k8s-build" && go build -mod=readonly -buildvcs=false -trimpath -ldflags "$ld" -o "$BIN/" "${pkgs[@]}") >"$LOGS/build-k8s.log" 2>&1
	echo "$stamp" >"$BIN/.k8s.stamp"
	ok
}

go_install() { # go_install NAME MODULE_PATH@VERSION
	local name=$1 pkg=$2 stamp
	stamp="$(go version) $pkg"
	step "$name (go install $pkg; ~2-3 min cold)" "$LOGS/build-$name.log"
	if [ -x "$BIN/$name" ] && stamp_ok "$name" "$stamp"; then
		ok "cached"
		return
	fi
	rm -f "$BIN/.$name.stamp"
	# Outside the repo, so the project's go.mod plays no part.
	(cd / && GOBIN=$BIN go install -trimpath -ldflags "-s -w" "$pkg") >"$LOGS/build-$name.log" 2>&1
	echo "$stamp" >"$BIN/.$name.stamp"
	ok
}

# make_image NAME TAG USER BINARY PATH_IN_IMAGE: docker-archive via tools/mkimage,
# rewritten only when the binary (or mkimage) is newer than the archive.
make_image() {
	local name=$1 tag=$2 user=$3 bin=$4 path=$5 out=$IMAGES/$1.tar
	if [ -f "$out" ] && [ "$out" -nt "$bin" ] && [ "$out" -nt "$BIN/mkimage" ] && [ "$(cat "$out.tag" 2>/dev/null)" = "$tag" ]; then
		return 0
	fi
	"$BIN/mkimage" -tag "$tag" -out "$out" -user "$user" -file "$bin=$path" >>"$LOGS/build-images.log" 2>&1
	echo "$tag" >"$out.tag"
	note "image $tag"
}

build_images() {
	step "pause, probe and addon images (tools/mkimage)" "$LOGS/build-images.log"
	: >"$LOGS/build-images.log"
	[ -f "$REPO/tools/mkimage/main.go" ] || die "tools/mkimage is missing in $REPO"
	# Small programs of the tools module: go build is a no-op when they are up to date.
	(cd "$REPO/tools" && go build -buildvcs=false -trimpath -ldflags "-s -w" -o "$BIN/" ./mkimage ./pause ./probe) >>"$LOGS/build-images.log" 2>&1
	make_image pause "$PAUSE_IMAGE" 65535:65535 "$BIN/pause" /pause
	make_image probe "$PROBE_IMAGE" 65532:65532 "$BIN/probe" /probe
	make_image coredns "$COREDNS_IMAGE" 65532:65532 "$BIN/coredns" /coredns
	make_image metrics-server "$METRICS_SERVER_IMAGE" 65532:65532 "$BIN/metrics-server" /metrics-server
	ok
}

build() {
	mkdir -p "$BIN" "$IMAGES" "$LOGS"
	apt_packages
	build_k8s
	go_install coredns "github.com/coredns/coredns@$COREDNS_VERSION"
	go_install metrics-server "sigs.k8s.io/metrics-server/cmd/metrics-server@$METRICS_SERVER_VERSION"
	build_images
}

# ---------------------------------------------------------------------------
# up

# net_guards: no pod, service or node traffic may leave the machine. Two mangle
# chains, jumped to first: anything from/to the pod, service or node ranges that
# would leave through an interface other than lo or the pod bridge is dropped
# (whatever the uplink is called), and nothing from outside reaches the node IP,
# the API server port or the pod/service ranges. The bridge CNI does no
# masquerading, so pod traffic could not be NATed onto the uplink either.
net_guards() {
	local t=mangle
	iptables -t $t -N $GUARD_OUT 2>/dev/null || iptables -t $t -F $GUARD_OUT
	iptables -t $t -A $GUARD_OUT -o lo -j RETURN
	iptables -t $t -A $GUARD_OUT -o $BRIDGE -j RETURN
	local cidr
	for cidr in $POD_CIDR $SVC_CIDR $NODE_IP/32; do
		iptables -t $t -A $GUARD_OUT -d "$cidr" -j DROP
		iptables -t $t -A $GUARD_OUT -s "$cidr" -j DROP
	done
	iptables -t $t -N $GUARD_IN 2>/dev/null || iptables -t $t -F $GUARD_IN
	iptables -t $t -A $GUARD_IN -i lo -j RETURN
	iptables -t $t -A $GUARD_IN -i $BRIDGE -j RETURN
	for cidr in $POD_CIDR $SVC_CIDR $NODE_IP/32; do
		iptables -t $t -A $GUARD_IN -d "$cidr" -j DROP
		iptables -t $t -A $GUARD_IN -s "$cidr" -j DROP
	done
	iptables -t $t -A $GUARD_IN -p tcp --dport 6443 -j DROP # the API server binds 0.0.0.0
	local chain
	# Not OUTPUT: there a host packet to a ClusterIP is still routed to the uplink,
	# before kube-proxy's DNAT re-routes it; POSTROUTING sees the final interface.
	for chain in POSTROUTING FORWARD; do
		iptables -t $t -C $chain -j $GUARD_OUT 2>/dev/null || iptables -t $t -I $chain 1 -j $GUARD_OUT
	done
	iptables -t $t -C PREROUTING -j $GUARD_IN 2>/dev/null || iptables -t $t -I PREROUTING 1 -j $GUARD_IN
}

host_network() {
	step "host network (node IP on lo, sysctls, leak guards)"
	ip addr show dev lo | grep -q " $NODE_IP/32 " || ip addr add "$NODE_IP/32" dev lo
	# Remember the sysctls we change so that `down` can put them back.
	[ -f "$STATE/sysctl.orig" ] || sysctl -n net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables | paste -sd' ' >"$STATE/sysctl.orig"
	sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
	net_guards
	ok "node IP $NODE_IP, pods $POD_CIDR, services $SVC_CIDR"
}

pki() {
	step "certificates and kubeconfigs" "$LOGS/pki.log"
	mkdir -p "$PKI"
	: >"$LOGS/pki.log"
	# EC P-256 everywhere: RSA key generation takes many seconds on a loaded 2-core machine.
	ca() { # ca NAME CN
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
			-keyout "$PKI/$1.key" -out "$PKI/$1.crt" -subj "/CN=$2" \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" >>"$LOGS/pki.log" 2>&1
	}
	cert() { # cert NAME SUBJECT CA EXTENDED_KEY_USAGE [SUBJECT_ALT_NAMES]
		local ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=$4"
		[ -z "${5:-}" ] || ext+="
subjectAltName=$5"
		printf '%s\n' "$ext" >"$PKI/$1.ext"
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$PKI/$1.key" -out "$PKI/$1.csr" -subj "$2" >>"$LOGS/pki.log" 2>&1
		openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/$3.crt" -CAkey "$PKI/$3.key" -CAcreateserial -days 3650 \
			-out "$PKI/$1.crt" -extfile "$PKI/$1.ext" >>"$LOGS/pki.log" 2>&1
		rm -f "$PKI/$1.csr" "$PKI/$1.ext"
	}
	ca ca kubernetes-ca
	ca front-proxy-ca front-proxy-ca
	cert apiserver "/CN=kube-apiserver" ca serverAuth \
		"DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP,IP:$KUBERNETES_SVC_IP"
	cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" ca clientAuth
	cert admin "/O=system:masters/CN=kubernetes-admin" ca clientAuth
	cert controller-manager "/CN=system:kube-controller-manager" ca clientAuth
	cert scheduler "/CN=system:kube-scheduler" ca clientAuth
	cert kube-proxy "/CN=system:kube-proxy" ca clientAuth
	cert kubelet "/O=system:nodes/CN=system:node:$NODE_NAME" ca clientAuth
	cert kubelet-server "/CN=$NODE_NAME" ca serverAuth "DNS:$NODE_NAME,DNS:localhost,IP:$NODE_IP,IP:127.0.0.1"
	cert front-proxy-client "/CN=front-proxy-client" front-proxy-ca clientAuth
	# Service-account token signing key (ES256).
	openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/sa.key" >>"$LOGS/pki.log" 2>&1
	openssl ec -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" >>"$LOGS/pki.log" 2>&1
	chmod 600 "$PKI"/*.key

	local u
	for u in admin controller-manager scheduler kube-proxy kubelet; do
		write_kubeconfig "$u" "$STATE/$u.kubeconfig"
	done
	mv "$STATE/admin.kubeconfig" "$KUBECONFIG_ADMIN"
	ok "kubeconfig: $KUBECONFIG_ADMIN"
}

write_kubeconfig() { # write_kubeconfig USER FILE (certificates embedded, so the file stands alone)
	local b64="base64 -w0"
	umask 077
	cat >"$2" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local-cluster
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: $($b64 <"$PKI/ca.crt")
users:
- name: $1
  user:
    client-certificate-data: $($b64 <"$PKI/$1.crt")
    client-key-data: $($b64 <"$PKI/$1.key")
contexts:
- name: local-cluster
  context:
    cluster: local-cluster
    user: $1
current-context: local-cluster
EOF
	umask 022
}

configs() {
	mkdir -p "$STATE/containerd" "$STATE/cni/net.d" "$STATE/cni/ipam" "$STATE/kubelet" "$STATE/pod-logs"
	cat >"$STATE/containerd/config.toml" <<EOF
version = 2
root = "$STATE/containerd/root"
state = "$STATE/containerd/state"

[grpc]
  address = "$SOCK"

[plugins."io.containerd.internal.v1.opt"]
  path = "$STATE/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  # Nothing can be pulled: this tag is our locally built, imported pause image.
  sandbox_image = "$PAUSE_IMAGE"
  # The sandbox lacks CAP_SYS_RESOURCE: without this, runc fails to give the pause
  # container oom_score_adj -998 and every pod fails with "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        # cgroup v1 with cgroupfs, matching the kubelet's cgroupDriver (no systemd here).
        SystemdCgroup = false
        Root = "$STATE/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$STATE/containerd/certs.d"
EOF
	# The local registry speaks plain HTTP, on loopback only.
	mkdir -p "$STATE/containerd/certs.d/$REGISTRY" "$STATE/registry/data"
	cat >"$STATE/containerd/certs.d/$REGISTRY/hosts.toml" <<EOF
server = "http://$REGISTRY_LISTEN"
[host."http://$REGISTRY_LISTEN"]
  capabilities = ["pull", "resolve"]
EOF
	cat >"$STATE/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE/registry/data
  delete:
    enabled: true
http:
  addr: $REGISTRY_LISTEN
EOF
	# Bridge without masquerading: pod traffic is never NATed to the uplink.
	cat >"$STATE/cni/net.d/10-$CNI_NETWORK.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "$CNI_NETWORK",
  "plugins": [
    {
      "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {"type": "host-local", "dataDir": "$STATE/cni/ipam",
               "ranges": [[{"subnet": "$POD_SUBNET"}]], "routes": [{"dst": "0.0.0.0/0"}]}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
	cat >"$STATE/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet-server.crt
tlsPrivateKeyFile: $PKI/kubelet-server.key
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$SOCK
failSwapOn: false
clusterDomain: cluster.local
clusterDNS: [$DNS_SVC_IP]
# No upstream resolver for pods: the host's resolv.conf would lead DNS off the machine.
resolvConf: ""
podLogsDir: $STATE/pod-logs
# Images can never be pulled again once collected: no image garbage collection.
imageGCHighThresholdPercent: 100
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
syncFrequency: 10s
EOF
	cat >"$STATE/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: {kubeconfig: $STATE/kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# NodePorts only on the node IP (on lo), never on the uplink's address.
nodePortAddresses: [$NODE_IP/32]
conntrack: {maxPerCore: 0}
iptables: {syncPeriod: 10s, minSyncPeriod: 0s}
EOF
}

host_volumes() {
	step "local volumes"
	local d
	for d in "${VOLUME_DIRS[@]}"; do
		mkdir -p "$VOLUMES/$d"
		chown "$VOLUME_OWNER" "$VOLUMES/$d"
		chmod 0775 "$VOLUMES/$d"
	done
	mkdir -p "$(dirname "$HOST_VOLUMES")"
	if [ -d "$HOST_VOLUMES" ] && [ ! -L "$HOST_VOLUMES" ]; then
		# A real directory (not ours): take it over only when empty.
		rmdir "$HOST_VOLUMES" 2>/dev/null || die "$HOST_VOLUMES is a non-empty directory; move it away (the harness links it to $VOLUMES)"
	fi
	ln -sfn "$VOLUMES" "$HOST_VOLUMES"
	ok "$HOST_VOLUMES -> $VOLUMES (${VOLUME_DIRS[*]}, owner $VOLUME_OWNER)"
}

start_containerd() {
	step "containerd + images" "$LOGS/containerd.log"
	# A unix socket path is limited to 108 bytes.
	[ ${#SOCK} -lt 100 ] || die "socket path too long (${#SOCK} bytes): $SOCK; clone the repo to a shorter path"
	start_proc containerd containerd --config "$STATE/containerd/config.toml"
	wait_until 30 "containerd answers" containerd ctr --address "$SOCK" version
	local i
	for i in pause probe coredns metrics-server; do
		ctrk images import "$IMAGES/$i.tar" >>"$LOGS/images.log" 2>&1 || die "ctr images import $IMAGES/$i.tar failed (see $LOGS/images.log)"
	done
	ok
}

start_registry() {
	step "local registry ($REGISTRY)" "$LOGS/registry.log"
	start_proc registry docker-registry serve "$STATE/registry/config.yml"
	wait_until 30 "registry answers on $REGISTRY_LISTEN" registry curl -fsS "http://$REGISTRY_LISTEN/v2/"
	ok
}

# push_service_images: what `make push` does, so the cluster pulls them as EKS pulls from ECR.
push_service_images() {
	step "project service images (bin/images/*.tar) -> $REGISTRY" "$LOGS/images.log"
	local tars=()
	shopt -s nullglob
	tars=("$REPO"/bin/images/*.tar)
	shopt -u nullglob
	if [ ${#tars[@]} -eq 0 ]; then
		ok "none in bin/images/ yet (make images writes them, make push pushes them); skipped"
		return
	fi
	"$REPO/.github/scripts/push-images.sh" "$REGISTRY" "$(cat "$REPO/VERSION")" >>"$LOGS/images.log" 2>&1 ||
		die "pushing bin/images to $REGISTRY failed (see $LOGS/images.log)"
	ok "${#tars[@]} image(s), tag $(cat "$REPO/VERSION")"
}

start_control_plane() {
	step "etcd" "$LOGS/etcd.log"
	start_proc etcd etcd --name local --data-dir "$STATE/etcd" \
		--listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
		--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster local=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381
	wait_until 30 "etcd /health" etcd curl -sf http://127.0.0.1:2379/health
	ok

	step "kube-apiserver" "$LOGS/kube-apiserver.log"
	start_proc kube-apiserver "$BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
		--bind-address=0.0.0.0 --secure-port=6443 --advertise-address=$NODE_IP --service-cluster-ip-range=$SVC_CIDR \
		--client-ca-file="$PKI/ca.crt" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
		--authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --allow-privileged=true \
		--kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
		--kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP \
		--requestheader-client-ca-file="$PKI/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
		--requestheader-extra-headers-prefix=X-Remote-Extra- --requestheader-group-headers=X-Remote-Group \
		--requestheader-username-headers=X-Remote-User \
		--proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
		--enable-aggregator-routing=true --profiling=false
	wait_until 90 "kube-apiserver /readyz" kube-apiserver kc get --raw /readyz
	ok

	step "kube-controller-manager + kube-scheduler" "$LOGS/kube-controller-manager.log" "$LOGS/kube-scheduler.log"
	# --pvclaimbinder-sync-period: a claim created right after its pre-bound static PV can
	# miss it in the informer cache and then waits for the next resync (default 15s).
	start_proc kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$STATE/controller-manager.kubeconfig" \
		--authentication-kubeconfig="$STATE/controller-manager.kubeconfig" --authorization-kubeconfig="$STATE/controller-manager.kubeconfig" \
		--bind-address=127.0.0.1 --leader-elect=false --profiling=false \
		--cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
		--root-ca-file="$PKI/ca.crt" --service-account-private-key-file="$PKI/sa.key" --use-service-account-credentials=true \
		--allocate-node-cidrs=true --cluster-cidr=$POD_CIDR --node-cidr-mask-size=24 --service-cluster-ip-range=$SVC_CIDR \
		--pvclaimbinder-sync-period=2s
	start_proc kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$STATE/scheduler.kubeconfig" \
		--authentication-kubeconfig="$STATE/scheduler.kubeconfig" --authorization-kubeconfig="$STATE/scheduler.kubeconfig" \
		--bind-address=127.0.0.1 --leader-elect=false --profiling=false
	wait_until 60 "kube-controller-manager /healthz" kube-controller-manager curl -skf https://127.0.0.1:10257/healthz
	wait_until 60 "kube-scheduler /healthz" kube-scheduler curl -skf https://127.0.0.1:10259/healthz
	ok
}

start_node() {
	step "kubelet + kube-proxy, node Ready" "$LOGS/kubelet.log" "$LOGS/kube-proxy.log"
	start_proc kubelet "$BIN/kubelet" --config="$STATE/kubelet/config.yaml" --kubeconfig="$STATE/kubelet.kubeconfig" \
		--root-dir="$STATE/kubelet/root" --cert-dir="$STATE/kubelet/pki" --hostname-override=$NODE_NAME --node-ip=$NODE_IP
	start_proc kube-proxy "$BIN/kube-proxy" --config="$STATE/kube-proxy.yaml"
	wait_until 90 "node $NODE_NAME Ready" kubelet node_ready
	# Pods cannot be created before the default ServiceAccount exists.
	wait_until 60 "ServiceAccount default/default" kube-controller-manager kc -n default get serviceaccount default
	ok
}
node_ready() { kc get node $NODE_NAME -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' | grep -qx True; }

addons() {
	step "CoreDNS + metrics-server" "$LOGS/addons.log"
	kc apply -f "$HERE/addons/coredns.yaml" -f "$HERE/addons/metrics-server.yaml" >"$LOGS/addons.log" 2>&1
	wait_until 120 "deployment kube-system/coredns available" kubelet deploy_available coredns
	wait_until 180 "deployment kube-system/metrics-server available" kubelet deploy_available metrics-server
	wait_until 120 "APIService v1beta1.metrics.k8s.io Available" kubelet apiservice_available
	ok
}
deploy_available() { kc -n kube-system get deploy "$1" -o 'jsonpath={.status.conditions[?(@.type=="Available")].status}' | grep -qx True; }
apiservice_available() { kc get apiservice v1beta1.metrics.k8s.io -o 'jsonpath={.status.conditions[?(@.type=="Available")].status}' | grep -qx True; }

# healthy: every component runs, the API is ready, the node and the addons are up.
healthy() {
	local c
	for c in "${COMPONENTS[@]}"; do alive "$c" || return 1; done
	[ -f "$KUBECONFIG_ADMIN" ] && kc get --raw /readyz >/dev/null 2>&1 && node_ready &&
		deploy_available coredns && deploy_available metrics-server && apiservice_available
}
any_running() {
	local c
	for c in "${COMPONENTS[@]}"; do alive "$c" && return 0; done
	return 1
}

up() {
	need_root
	take_lock
	if healthy; then
		step "cluster already running"
		ok "healthy, nothing to start"
		push_service_images
		summary
		return
	fi
	if any_running || [ -d "$STATE/etcd" ]; then
		echo "A previous cluster is partly running or left state behind: tearing it down first."
		teardown
	fi
	mkdir -p "$LOGS" "$PIDS"
	ports_free
	local f
	for f in "$LOGS"/*.log; do
		if [ -e "$f" ]; then : >"$f"; fi
	done
	build
	host_network
	pki
	configs
	host_volumes
	start_registry
	start_containerd
	start_control_plane
	start_node
	addons
	push_service_images
	summary
}

# ports_free: fail early, naming the holder, if a port the cluster needs is taken.
ports_free() {
	step "preflight: ports"
	local port holder
	for port in 5000 2379 2380 2381 6443 10248 10249 10250 10256 10257 10259; do
		holder=$(ss -Hltnp "sport = :$port" 2>/dev/null | head -n1 || true)
		[ -z "$holder" ] || die "port $port is already in use: $holder (if it is a component of an earlier cluster: make cluster-down)"
	done
	ok
}

summary() {
	echo
	echo "Cluster up in $(since "$T0")s: Kubernetes $K8S_VERSION, node $NODE_NAME ($NODE_IP)"
	echo "  export KUBECONFIG=$KUBECONFIG_ADMIN"
	echo "  local registry: http://$REGISTRY (make push; images $REGISTRY/layering-detection-<service>:<tag>)"
	echo "  local volume data: $VOLUMES/ (also as $HOST_VOLUMES)"
	echo "  logs: $LOGS/"
}

# ---------------------------------------------------------------------------
# down: stop every process by pid, then remove what the processes left behind.

teardown() {
	step "stop node components"
	stop_proc kube-proxy
	stop_proc kubelet
	ok
	step "remove containers" "$LOGS/containerd.log"
	# (|| true inside $(...): with set -E a failing command there would run the ERR trap.)
	if alive containerd; then
		local id ids
		ids=$(ctrk containers ls -q 2>/dev/null || true)
		for id in $(ctrk tasks ls -q 2>/dev/null || true); do ctrk tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
		sleep 0.5
		for id in $(ctrk tasks ls -q 2>/dev/null || true); do ctrk tasks delete -f "$id" >/dev/null 2>&1 || true; done
		for id in $ids; do
			ctrk containers delete "$id" >/dev/null 2>&1 || true
			# libcni's cached results of sandboxes killed without a CNI DEL.
			rm -f /var/lib/cni/results/*-"$id"-* 2>/dev/null || true
		done
	fi
	# containerd-shim processes of our containerd (told apart by its socket path) that
	# outlived their tasks, e.g. after containerd crashed: kill them with their containers.
	local p
	for p in /proc/[0-9]*; do
		case "$(readlink "$p/exe" 2>/dev/null || true)" in */containerd-shim*) ;; *) continue ;; esac
		if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- "-address $SOCK "; then
			kill_tree "${p#/proc/}"
			note "killed leftover shim ${p#/proc/} and its containers"
		fi
	done
	ok
	step "stop control plane"
	stop_proc kube-scheduler
	stop_proc kube-controller-manager
	stop_proc kube-apiserver
	stop_proc etcd
	stop_proc containerd
	stop_proc registry
	# Components the pid files do not know (one restarted by hand, say): our own
	# binaries run against our state directory. Left alive, they hold the ports
	# the next `up` needs.
	local exe
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null || true)
		case "$exe" in "$BIN"/*) ;; *) continue ;; esac
		tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$STATE/" || continue
		kill_tree "${p#/proc/}"
		note "killed leftover ${exe##*/} (pid ${p#/proc/})"
	done
	ok
	step "clean host (mounts, netns, cni0, iptables, lo address, sysctls, volume link)"
	local m
	# Pod network namespaces created by containerd's CNI setup.
	for m in /var/run/netns/cni-*; do
		[ -e "$m" ] || continue
		umount "$m" 2>/dev/null || true
		rm -f "$m"
	done
	# Mounts below our state dir (kubelet volumes, projected tokens, overlay rootfs, shm), deepest first.
	awk -v s="$STATE/" 'index($2, s) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	ip link del $BRIDGE 2>/dev/null || true
	if [ -L "$HOST_VOLUMES" ] && [ "$(readlink "$HOST_VOLUMES" || true)" = "$VOLUMES" ]; then
		rm -f "$HOST_VOLUMES"
		rmdir --ignore-fail-on-non-empty "$(dirname "$HOST_VOLUMES")" 2>/dev/null || true
	fi
	remove_iptables
	ip addr del "$NODE_IP/32" dev lo 2>/dev/null || true
	if [ -f "$STATE/sysctl.orig" ]; then
		local fwd brnf
		read -r fwd brnf <"$STATE/sysctl.orig" || true
		sysctl -qw net.ipv4.ip_forward="${fwd:-0}" net.bridge.bridge-nf-call-iptables="${brnf:-1}" || true
	fi
	# Files the kubelet, containerd and libcni keep outside our state dir whatever
	# their configuration says (hard-coded paths); their directories go if empty.
	rm -f /var/lib/cni/results/"$CNI_NETWORK"-* /var/lib/kubelet/device-plugins/kubelet.sock
	find /var/log/containers -maxdepth 1 -type l -lname "$STATE/*" -delete 2>/dev/null || true
	rmdir --ignore-fail-on-non-empty /var/lib/cni/results /var/lib/cni /var/lib/kubelet/device-plugins /var/lib/kubelet \
		/var/log/containers /run/containerd/s /run/containerd 2>/dev/null || true
	mountpoint -q /var/run/netns || rmdir --ignore-fail-on-non-empty /var/run/netns 2>/dev/null || true
	# Empty pod cgroups the kubelet created (cgroupfs driver); rmdir only removes empty ones.
	find /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/unified/kubepods -depth -type d -exec rmdir {} \; 2>/dev/null || true
	ok
	step "remove state (keeping logs/)"
	if [ -d "$STATE" ]; then
		local e
		for e in "$STATE"/* "$STATE"/.[!.]*; do
			[ -e "$e" ] || continue
			[ "$e" = "$LOGS" ] && continue
			# Never follow a mount we failed to remove into the host.
			if awk -v s="$e" '$2 == s || index($2, s "/") == 1 { f = 1 } END { exit !f }' /proc/self/mounts; then
				note "still mounted below $e: left in place"
				continue
			fi
			rm -rf "$e"
		done
	fi
	ok
}

kill_tree() { # kill_tree PID: SIGKILL a process and all its descendants, children first
	local child
	for child in $(ps -o pid= --ppid "$1" 2>/dev/null || true); do kill_tree "$child"; done
	kill -9 "$1" 2>/dev/null || true
}

# remove_iptables: our guard chains, every KUBE-* chain (the kubelet's
# KUBE-FIREWALL would otherwise keep dropping non-local traffic to 127/8) and the
# CNI-* chains the portmap plugin makes for hostPort pods.
remove_iptables() {
	local ipt t chain rule
	for ipt in iptables ip6tables; do
		command -v $ipt >/dev/null || continue
		for t in filter nat mangle; do
			$ipt -t $t -S >/dev/null 2>&1 || continue
			# Jumps into the chains from the built-in chains first, then the chains.
			$ipt -t $t -S | { grep -E "^-A [A-Z]+ .*-j (KUBE-[A-Z0-9-]+|CNI-[A-Z0-9-]+|$GUARD_OUT|$GUARD_IN)( |\$)" || true; } |
				{ grep -E '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) ' || true; } | sed 's/^-A/-D/' |
				while read -r rule; do
					# shellcheck disable=SC2086 # the rule is iptables-save syntax: word splitting wanted
					eval "$ipt -t $t $rule" 2>/dev/null || true
				done
			for chain in $($ipt -t $t -S | awk -v a=$GUARD_OUT -v b=$GUARD_IN '$1 == "-N" && ($2 ~ /^(KUBE|CNI)-/ || $2 == a || $2 == b) { print $2 }'); do
				$ipt -t $t -F "$chain" 2>/dev/null || true
			done
			for chain in $($ipt -t $t -S | awk -v a=$GUARD_OUT -v b=$GUARD_IN '$1 == "-N" && ($2 ~ /^(KUBE|CNI)-/ || $2 == a || $2 == b) { print $2 }'); do
				$ipt -t $t -X "$chain" 2>/dev/null || true
			done
		done
	done
}

down() {
	need_root
	take_lock
	mkdir -p "$LOGS"
	teardown
	echo "Cluster down in $(since "$T0")s."
}

status() {
	trap - ERR # "not running" is an answer here, not a failure to report
	local c pid
	for c in "${COMPONENTS[@]}"; do
		if pid=$(proc_pid "$c"); then printf '  %-24s running (pid %s)\n' "$c" "$pid"; else printf '  %-24s not running\n' "$c"; fi
	done
	if [ -f "$KUBECONFIG_ADMIN" ] && kc get --raw /readyz >/dev/null 2>&1; then
		kc get nodes -o wide
		kc get pods -A -o wide
		if healthy; then echo "healthy"; else
			echo "not healthy"
			return 1
		fi
	else
		echo "API server not reachable"
		return 1
	fi
}

case "${1:-}" in
build)
	# Separate statements: inside a function called from an && list, errexit is off.
	need_root
	take_lock
	build
	echo "Built in $(since "$T0")s (cache: $CACHE)"
	;;
up) up ;;
down) down ;;
status) status ;;
*)
	echo "usage: $0 build|up|down|status" >&2
	exit 2
	;;
esac
