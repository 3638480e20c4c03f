package main

// The cases scripts/test-helm.sh runs. Each successful render gets every
// generic check (check.go) plus the case's own expectations; each failing
// case must fail with the given message.

import (
	"fmt"
	"strings"
)

// Case is one "helm template" invocation.
type Case struct {
	Name        string
	ValueFiles  []string // relative to the repository root
	Set         []string
	Release     string
	Namespace   string
	KubeVersion string
	APIVersions []string
	Upgrade     bool
	ExpectError string // non-empty: the render must fail with this text
	Expect      func(r *Report, rel *Release)
}

const longRelease = "a-release-name-that-is-exactly-fifty-three-chars-long" // Helm's maximum

func cases() []Case {
	cluster := "helm/mirror/ci/cluster-values.yaml"
	prod := "helm/values-production.yaml"
	embedded := "helm/mirror/ci/embedded-values.yaml"
	return []Case{
		{
			Name:        "defaults without PostgreSQL fail",
			ExpectError: "postgresql.connectionString is required when silo.enabled=true",
		},
		{
			Name:        "cluster mode without a bucket fails",
			Set:         []string{"postgresql.connectionString=Host=pg;Username=mirror;Password=x"},
			ExpectError: "storage.s3.bucket is required when storage.kind=S3",
		},
		{
			Name:        "cluster mode refuses the FileSystem store",
			Set:         []string{"postgresql.connectionString=Host=pg", "storage.kind=FileSystem"},
			ExpectError: `storage.kind must be "S3" when silo.enabled=true`,
		},
		{
			Name:        "composed PostgreSQL needs a password secret",
			Set:         []string{"postgresql.host=pg", "storage.s3.bucket=mirror"},
			ExpectError: "postgresql.passwordSecret.name is required",
		},
		{
			Name:        "half an S3 key pair fails",
			ValueFiles:  []string{cluster},
			Set:         []string{"storage.s3.secretKey=null"},
			ExpectError: "storage.s3.accessKey and storage.s3.secretKey must be set together",
		},
		{
			Name:        "a grace period shorter than preStop + drain fails",
			ValueFiles:  []string{cluster},
			Set:         []string{"silo.terminationGracePeriodSeconds=30"},
			ExpectError: "terminationGracePeriodSeconds (30) must exceed preStopSleepSeconds + shutdownDrainSeconds (95)",
		},
		{
			Name:        "embedded mode with a disk cache and 2 replicas fails",
			ValueFiles:  []string{embedded},
			Set:         []string{"frontend.replicaCount=2"},
			ExpectError: "frontend.replicaCount must be 1 in embedded mode with storage.kind=FileSystem",
		},
		{
			Name:        "too old a cluster fails",
			ValueFiles:  []string{cluster},
			KubeVersion: "v1.24.0",
			ExpectError: "incompatible with Kubernetes v1.24.0",
		},
		{
			Name:       "cluster defaults (ci/cluster-values.yaml)",
			ValueFiles: []string{cluster},
			Expect: func(r *Report, rel *Release) {
				fe := rel.find("Deployment", "mirror-frontend")
				silo := rel.find("Deployment", "mirror-silo")
				r.Expect("frontend and silo Deployments", fe != nil && silo != nil, "missing a Deployment")
				if fe == nil || silo == nil {
					return
				}
				r.Expect("frontend replicas 2", getStr(fe.Obj, "spec", "replicas") == "2", "replicas %v", get(fe.Obj, "spec", "replicas"))
				r.Expect("no HPA, no Ingress by default", len(rel.kind("HorizontalPodAutoscaler")) == 0 && len(rel.kind("Ingress")) == 0, "rendered")
				r.Expect("two PDBs", len(rel.kind("PodDisruptionBudget")) == 2, "%d PDBs", len(rel.kind("PodDisruptionBudget")))
				hl := rel.find("Service", "mirror-silo-headless")
				r.Expect("headless silo Service", hl != nil && getStr(hl.Obj, "spec", "clusterIP") == "None", "no headless Service")
				r.Expect("client Service is ClusterIP", getStr(rel.find("Service", "mirror").objOrNil(), "spec", "type") == "ClusterIP", "type")
				r.Expect("silo advertises http://$(POD_IP):8081", envValue(silo, "Mirror__Silo__AdvertisedUrl") == "http://$(POD_IP):8081", "got %q", envValue(silo, "Mirror__Silo__AdvertisedUrl"))
				r.Expect("connection string from the chart Secret", envSecret(silo, "Mirror__Cluster__ConnectionString") == "mirror/connection-string", "got %q", envSecret(silo, "Mirror__Cluster__ConnectionString"))
				r.Expect("frontend also gets the connection string", envSecret(fe, "Mirror__Cluster__ConnectionString") == "mirror/connection-string", "got %q", envSecret(fe, "Mirror__Cluster__ConnectionString"))
				r.Expect("S3 keys from the chart Secret", envSecret(fe, "Mirror__Storage__S3__SecretKey") == "mirror/s3-secret-key", "got %q", envSecret(fe, "Mirror__Storage__S3__SecretKey"))
				r.Expect("native preStop sleep on 1.31", get(fe.Obj, "spec", "template", "spec", "containers") != nil && getNumOr(firstContainer(fe), "lifecycle", "preStop", "sleep", "seconds") == 10, "preStop %v", get(firstContainer(fe), "lifecycle"))
				r.Expect("grace periods computed from drain (90 s / 115 s)", getStr(podSpec(fe), "terminationGracePeriodSeconds") == "90" && getStr(podSpec(silo), "terminationGracePeriodSeconds") == "115", "frontend %v silo %v", get(podSpec(fe), "terminationGracePeriodSeconds"), get(podSpec(silo), "terminationGracePeriodSeconds"))
				r.Expect("hook Secret and ConfigMap exist", rel.find("Secret", "mirror-migrate") != nil && rel.find("ConfigMap", "mirror-migrate") != nil, "missing hook copies")
				job := rel.find("Job", "mirror-migrate")
				r.Expect("hook Job reads the hook Secret", job != nil && envSecret(job, "Mirror__Cluster__ConnectionString") == "mirror-migrate/connection-string", "got %q", envSecret(job, "Mirror__Cluster__ConnectionString"))
				cfg := configJSON(rel, "mirror")
				r.Expect("config: Storage.Kind S3, bucket, upstream with dots", strings.Contains(cfg, `"Kind": "S3"`) && strings.Contains(cfg, `"Bucket": "mirror"`) && strings.Contains(cfg, `"docker.io": {`) && strings.Contains(cfg, `"TagTtl": "00:05:00"`), "mirror.json: %s", cfg)
				r.Expect("image tag defaults to appVersion", getStr(firstContainer(fe), "image") == "ghcr.io/example/mirror:0.1.0", "image %q", getStr(firstContainer(fe), "image"))
			},
		},
		{
			Name:       "production (helm/values-production.yaml)",
			ValueFiles: []string{prod},
			Release:    "mirror",
			Namespace:  "mirror",
			Expect: func(r *Report, rel *Release) {
				fe := rel.find("Deployment", "mirror-frontend")
				silo := rel.find("Deployment", "mirror-silo")
				hpa := rel.find("HorizontalPodAutoscaler", "mirror-frontend")
				r.Expect("HPA with minReplicas 3", hpa != nil && getStr(hpa.Obj, "spec", "minReplicas") == "3", "hpa %v", hpa != nil)
				r.Expect("3 silos", silo != nil && getStr(silo.Obj, "spec", "replicas") == "3", "silo replicas")
				r.Expect("Ingress with TLS", len(rel.kind("Ingress")) == 1 && len(getList(rel.kind("Ingress")[0].Obj, "spec", "tls")) == 1, "ingress")
				r.Expect("no chart Secret (all credentials are existing secrets)", len(rel.kind("Secret")) == 0, "%d Secrets rendered", len(rel.kind("Secret")))
				if fe == nil || silo == nil {
					return
				}
				r.Expect("PostgreSQL from existing secret", envSecret(silo, "Mirror__Cluster__ConnectionString") == "mirror-postgresql-dsn/connection-string", "got %q", envSecret(silo, "Mirror__Cluster__ConnectionString"))
				r.Expect("S3 keys from existing secret", envSecret(fe, "Mirror__Storage__S3__AccessKey") == "mirror-s3/access-key-id", "got %q", envSecret(fe, "Mirror__Storage__S3__AccessKey"))
				r.Expect("Docker Hub credentials from existing secret", envSecret(silo, "Mirror__Upstreams__docker.io__Password") == "mirror-dockerhub/token", "got %q", envSecret(silo, "Mirror__Upstreams__docker.io__Password"))
				job := rel.find("Job", "mirror-migrate")
				r.Expect("hook Job reads the existing secret directly", job != nil && envSecret(job, "Mirror__Cluster__ConnectionString") == "mirror-postgresql-dsn/connection-string", "job env")
				r.Expect("image pinned by digest", strings.Contains(getStr(firstContainer(fe), "image"), "@sha256:"), "image %q", getStr(firstContainer(fe), "image"))
			},
		},
		{
			Name:        "production upgrade on Kubernetes 1.28",
			ValueFiles:  []string{prod},
			Release:     "mirror",
			Namespace:   "mirror",
			Upgrade:     true,
			KubeVersion: "v1.28.3",
			Expect: func(r *Report, rel *Release) {
				fe := rel.find("Deployment", "mirror-frontend")
				cmd := fmt.Sprint(getList(firstContainer(fe), "lifecycle", "preStop", "exec", "command"))
				r.Expect("exec sleep preStop before 1.30", cmd == "[sleep 10]", "preStop %v", get(firstContainer(fe), "lifecycle"))
			},
		},
		{
			Name:       "embedded mode (ci/embedded-values.yaml)",
			ValueFiles: []string{embedded},
			Expect: func(r *Report, rel *Release) {
				fe := rel.find("Deployment", "mirror-frontend")
				r.Expect("only the frontend Deployment", fe != nil && len(rel.kind("Deployment")) == 1, "deployments %d", len(rel.kind("Deployment")))
				if fe == nil {
					return
				}
				r.Expect("one replica, Recreate", getStr(fe.Obj, "spec", "replicas") == "1" && getStr(fe.Obj, "spec", "strategy", "type") == "Recreate", "spec %v", getMap(fe.Obj, "spec", "strategy"))
				r.Expect("PVC for the disk cache", rel.find("PersistentVolumeClaim", "mirror-cache") != nil, "no PVC")
				r.Expect("no PostgreSQL, no Job, no PDB, no silo Service", envValue(fe, "Mirror__Cluster__ConnectionString") == "" && envSecret(fe, "Mirror__Cluster__ConnectionString") == "" && len(rel.kind("Job")) == 0 && len(rel.kind("PodDisruptionBudget")) == 0 && len(rel.kind("Service")) == 1, "cluster pieces rendered")
				r.Expect("FileSystem store", strings.Contains(configJSON(rel, "mirror"), `"Kind": "FileSystem"`), "config")
			},
		},
		{
			Name:       "composed PostgreSQL connection (bitnami password secret)",
			ValueFiles: []string{cluster},
			Set: []string{
				"postgresql.connectionString=null", "postgresql.host=pg-postgresql.db.svc",
				"postgresql.passwordSecret.name=pg-postgresql", "postgresql.options=SSL Mode=Disable",
			},
			Expect: func(r *Report, rel *Release) {
				silo := rel.find("Deployment", "mirror-silo")
				r.Expect("password from the bitnami secret", envSecret(silo, "MIRROR_PG_PASSWORD") == "pg-postgresql/password", "got %q", envSecret(silo, "MIRROR_PG_PASSWORD"))
				r.Expect("connection string composed", envValue(silo, "Mirror__Cluster__ConnectionString") == "Host=pg-postgresql.db.svc;Port=5432;Database=mirror;Username=mirror;Password=$(MIRROR_PG_PASSWORD);SSL Mode=Disable", "got %q", envValue(silo, "Mirror__Cluster__ConnectionString"))
			},
		},
		{
			Name:       "53-character release name and a 70-character fullnameOverride",
			ValueFiles: []string{cluster},
			Release:    longRelease,
			Expect: func(r *Report, rel *Release) {
				want := strings.TrimSuffix((longRelease + "-mirror")[:62-len("frontend")], "-") + "-frontend"
				r.Expect("names keep their suffix", rel.find("Deployment", want) != nil, "no Deployment %q", want)
			},
		},
		{
			Name:       "fullnameOverride is truncated",
			ValueFiles: []string{cluster},
			Set:        []string{"fullnameOverride=" + strings.Repeat("x", 70)},
			Expect: func(r *Report, rel *Release) {
				r.Expect("ConfigMap name is 63 x", rel.find("ConfigMap", strings.Repeat("x", 63)) != nil, "no truncated ConfigMap")
			},
		},
		{
			Name:       "LoadBalancer service, upstream credentials, ServiceMonitor",
			ValueFiles: []string{cluster},
			Set: []string{
				"service.type=LoadBalancer", "service.nodePort=30500", "service.externalTrafficPolicy=Local",
				`upstreams.docker\.io.username=bot`, `upstreams.docker\.io.password=tok`,
				`upstreams.quay\.io.existingSecret=quay-creds`,
				"metrics.serviceMonitor.enabled=true", "image.tag=1.2.3",
			},
			APIVersions: []string{"monitoring.coreos.com/v1"},
			Expect: func(r *Report, rel *Release) {
				svc := rel.find("Service", "mirror")
				r.Expect("LoadBalancer with nodePort", getStr(svc.objOrNil(), "spec", "type") == "LoadBalancer" && getStr(getList(svc.objOrNil(), "spec", "ports")[0], "nodePort") == "30500", "service %v", get(svc.objOrNil(), "spec"))
				silo := rel.find("Deployment", "mirror-silo")
				r.Expect("docker.io credentials from chart Secret", envSecret(silo, "Mirror__Upstreams__docker.io__Username") == "mirror/upstream-docker.io-username", "got %q", envSecret(silo, "Mirror__Upstreams__docker.io__Username"))
				r.Expect("quay.io credentials from existing secret", envSecret(silo, "Mirror__Upstreams__quay.io__Password") == "quay-creds/password", "got %q", envSecret(silo, "Mirror__Upstreams__quay.io__Password"))
				r.Expect("ServiceMonitor rendered when the CRD is served", len(rel.kind("ServiceMonitor")) == 1, "none")
				r.Expect("image tag override", getStr(firstContainer(silo), "image") == "ghcr.io/example/mirror:1.2.3", "image %q", getStr(firstContainer(silo), "image"))
			},
		},
		{
			Name:       "ServiceMonitor skipped without the CRD",
			ValueFiles: []string{cluster},
			Set:        []string{"metrics.serviceMonitor.enabled=true"},
			Expect: func(r *Report, rel *Release) {
				r.Expect("no ServiceMonitor", len(rel.kind("ServiceMonitor")) == 0, "rendered without monitoring.coreos.com/v1")
			},
		},
	}
}

// ---------------------------------------------------------------- helpers for expectations

func firstContainer(d *Doc) obj {
	if d == nil {
		return nil
	}
	cs := containers(d)
	if len(cs) == 0 {
		return nil
	}
	return cs[len(cs)-1]
}

func getNumOr(o interface{}, path ...string) float64 {
	n, _ := getNum(o, path...)
	return n
}

func findEnv(d *Doc, name string) obj {
	for _, e := range getList(firstContainer(d), "env") {
		if getStr(e, "name") == name {
			return e.(obj)
		}
	}
	return nil
}

func envValue(d *Doc, name string) string { return getStr(findEnv(d, name), "value") }

// envSecret returns "secret/key" of a secretKeyRef env var, or "".
func envSecret(d *Doc, name string) string {
	ref := getMap(findEnv(d, name), "valueFrom", "secretKeyRef")
	if ref == nil {
		return ""
	}
	return getStr(ref, "name") + "/" + getStr(ref, "key")
}

func configJSON(rel *Release, name string) string {
	return getStr(rel.find("ConfigMap", name).objOrNil(), "data", "mirror.json")
}
