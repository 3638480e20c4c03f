package main

// Checks on a rendered release. Each check is counted once per object (or
// once per case for cross-object checks); a failure names the object and says
// what is wrong.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Report counts checks and prints failures.
type Report struct {
	Passed, Failed int
	Verbose        bool
	scope          string
}

func (r *Report) Scope(s string) { r.scope = s }

// Check records one check; err == nil means pass.
func (r *Report) Check(name string, err error) {
	if err == nil {
		r.Passed++
		if r.Verbose {
			fmt.Printf("  ok    %s: %s\n", r.scope, name)
		}
		return
	}
	r.Failed++
	fmt.Printf("  FAIL  %s: %s: %v\n", r.scope, name, err)
}

// Expect records a boolean check.
func (r *Report) Expect(name string, ok bool, format string, args ...interface{}) {
	if ok {
		r.Check(name, nil)
	} else {
		r.Check(name, fmt.Errorf(format, args...))
	}
}

// ---------------------------------------------------------------- object access

type obj = map[string]interface{}

func get(o interface{}, path ...string) interface{} {
	cur := o
	for _, p := range path {
		m, ok := cur.(obj)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

func getMap(o interface{}, path ...string) obj {
	m, _ := get(o, path...).(obj)
	return m
}

func getList(o interface{}, path ...string) []interface{} {
	l, _ := get(o, path...).([]interface{})
	return l
}

func getStr(o interface{}, path ...string) string {
	switch v := get(o, path...).(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

func getNum(o interface{}, path ...string) (float64, bool) {
	switch v := get(o, path...).(type) {
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

func getBool(o interface{}, path ...string) (bool, bool) {
	b, ok := get(o, path...).(bool)
	return b, ok
}

func strMap(m obj) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = fmt.Sprint(v)
	}
	return out
}

// subset: every selector label is on the pod.
func subset(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------- the model

// Known kinds: apiVersion + kind pairs the chart may render.
var knownKinds = map[string]string{
	"v1/Service":                              "",
	"v1/ConfigMap":                            "",
	"v1/Secret":                               "",
	"v1/ServiceAccount":                       "",
	"v1/PersistentVolumeClaim":                "",
	"apps/v1/Deployment":                      "",
	"apps/v1/StatefulSet":                     "",
	"batch/v1/Job":                            "",
	"policy/v1/PodDisruptionBudget":           "",
	"autoscaling/v2/HorizontalPodAutoscaler":  "",
	"networking.k8s.io/v1/Ingress":            "",
	"monitoring.coreos.com/v1/ServiceMonitor": "",
}

var dns1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
var dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
var envRefPattern = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)`)

// Release is the parsed render of one case.
type Release struct {
	Docs      []*Doc
	Values    obj
	Namespace string
	byKind    map[string][]*Doc
}

func (rel *Release) kind(k string) []*Doc { return rel.byKind[k] }

func (rel *Release) find(kind, name string) *Doc {
	for _, d := range rel.byKind[kind] {
		if getStr(d.Obj, "metadata", "name") == name {
			return d
		}
	}
	return nil
}

func docName(d *Doc) string {
	return fmt.Sprintf("%s/%s", getStr(d.Obj, "kind"), getStr(d.Obj, "metadata", "name"))
}

func isHook(d *Doc) bool { return getStr(d.Obj, "metadata", "annotations", "helm.sh/hook") != "" }

func hookWeight(d *Doc) int {
	var w int
	fmt.Sscan(getStr(d.Obj, "metadata", "annotations", "helm.sh/hook-weight"), &w)
	return w
}

// workloads: objects with a pod template.
func (rel *Release) workloads() []*Doc {
	var out []*Doc
	for _, k := range []string{"Deployment", "StatefulSet", "Job"} {
		out = append(out, rel.byKind[k]...)
	}
	return out
}

func podSpec(d *Doc) obj   { return getMap(d.Obj, "spec", "template", "spec") }
func podLabels(d *Doc) obj { return getMap(d.Obj, "spec", "template", "metadata", "labels") }
func containers(d *Doc) []obj {
	var out []obj
	for _, key := range []string{"initContainers", "containers"} {
		for _, c := range getList(podSpec(d), key) {
			if m, ok := c.(obj); ok {
				out = append(out, m)
			}
		}
	}
	return out
}

// externalSecrets: Secrets the values declare as existing (not rendered by the chart).
func externalSecrets(v obj) map[string]bool {
	out := map[string]bool{}
	add := func(s string) {
		if s != "" {
			out[s] = true
		}
	}
	add(getStr(v, "postgresql", "existingSecret"))
	add(getStr(v, "postgresql", "passwordSecret", "name"))
	add(getStr(v, "storage", "s3", "existingSecret"))
	for _, u := range getMap(v, "upstreams") {
		add(getStr(u, "existingSecret"))
	}
	for _, s := range getList(v, "imagePullSecrets") {
		add(fmt.Sprint(s))
	}
	for _, t := range getList(v, "ingress", "tls") {
		add(getStr(t, "secretName"))
	}
	return out
}

// dataKeys of a rendered Secret or ConfigMap.
func dataKeys(d *Doc) map[string]bool {
	out := map[string]bool{}
	for _, f := range []string{"data", "stringData", "binaryData"} {
		for k := range getMap(d.Obj, f) {
			out[k] = true
		}
	}
	return out
}

// ---------------------------------------------------------------- generic checks

// CheckRelease runs every generic check on a successful render.
func CheckRelease(r *Report, rendered *Rendered, namespace string) *Release {
	rel := &Release{Values: rendered.Values, Namespace: namespace, byKind: map[string][]*Doc{}}
	docs := SplitDocs(rendered)

	// 1. Every document is YAML (duplicate keys are errors) with a known kind.
	for _, d := range docs {
		r.Scope(fmt.Sprintf("%s#%d", d.Source, d.Index))
		var o obj
		err := yaml.Unmarshal([]byte(d.Text), &o)
		r.Check("valid YAML", err)
		if err != nil || o == nil {
			continue
		}
		d.Obj = o
		key := getStr(o, "apiVersion") + "/" + getStr(o, "kind")
		_, known := knownKinds[key]
		r.Expect("known apiVersion+kind", known, "unknown %q", key)
		rel.Docs = append(rel.Docs, d)
		rel.byKind[getStr(o, "kind")] = append(rel.byKind[getStr(o, "kind")], d)
	}

	seen := map[string]bool{}
	for _, d := range rel.Docs {
		r.Scope(docName(d))
		name := getStr(d.Obj, "metadata", "name")
		r.Expect("name is a DNS-1123 label <= 63", len(name) > 0 && len(name) <= 63 && dns1123Label.MatchString(name), "name %q (%d chars)", name, len(name))
		r.Expect("namespace is the release namespace", getStr(d.Obj, "metadata", "namespace") == namespace, "namespace %q", getStr(d.Obj, "metadata", "namespace"))
		key := docName(d)
		r.Expect("unique kind/name", !seen[key], "rendered twice")
		seen[key] = true
		labels := strMap(getMap(d.Obj, "metadata", "labels"))
		var missing []string
		for _, l := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "helm.sh/chart"} {
			if labels[l] == "" {
				missing = append(missing, l)
			}
		}
		r.Expect("standard labels", len(missing) == 0, "missing %v", missing)
		bad := ""
		for k, v := range labels {
			if len(v) > 63 {
				bad = k
			}
		}
		r.Expect("label values <= 63 chars", bad == "", "label %s too long", bad)
	}

	external := externalSecrets(rel.Values)
	for _, w := range rel.workloads() {
		checkWorkload(r, rel, w, external)
	}
	checkServices(r, rel)
	checkPDBs(r, rel)
	checkHPAs(r, rel)
	checkIngresses(r, rel)
	checkConfigAndSecrets(r, rel)
	checkHooks(r, rel, external)
	return rel
}

func checkWorkload(r *Report, rel *Release, w *Doc, external map[string]bool) {
	r.Scope(docName(w))
	kind := getStr(w.Obj, "kind")
	spec := podSpec(w)
	labels := strMap(podLabels(w))
	longRunning := kind != "Job"

	if longRunning {
		sel := strMap(getMap(w.Obj, "spec", "selector", "matchLabels"))
		r.Expect("selector matches pod template labels", subset(sel, labels), "selector %v vs labels %v", sel, labels)
		r.Expect("selector has the component label", sel["app.kubernetes.io/component"] != "", "selector %v cannot tell frontends from silos", sel)
	} else {
		rp := getStr(spec, "restartPolicy")
		r.Expect("Job restartPolicy Never/OnFailure", rp == "Never" || rp == "OnFailure", "restartPolicy %q", rp)
		_, ok1 := getNum(w.Obj, "spec", "backoffLimit")
		_, ok2 := getNum(w.Obj, "spec", "activeDeadlineSeconds")
		r.Expect("Job backoffLimit and activeDeadlineSeconds", ok1 && ok2, "backoffLimit set=%v activeDeadlineSeconds set=%v", ok1, ok2)
	}

	// Pod security.
	psc := getMap(spec, "securityContext")
	nonRoot, _ := getBool(psc, "runAsNonRoot")
	uid, hasUID := getNum(psc, "runAsUser")
	r.Expect("pod runs as non-root uid", nonRoot && hasUID && uid != 0 && (uid == 1654 || uid == 64198), "pod securityContext %v", psc)
	podSeccomp := getStr(psc, "seccompProfile", "type")

	// Volumes.
	volumes := map[string]obj{}
	for _, v := range getList(spec, "volumes") {
		if m, ok := v.(obj); ok {
			volumes[getStr(m, "name")] = m
		}
	}

	for _, c := range containers(w) {
		cname := getStr(c, "name")
		r.Scope(docName(w) + "/" + cname)
		sc := getMap(c, "securityContext")
		ro, _ := getBool(sc, "readOnlyRootFilesystem")
		ape, apeSet := getBool(sc, "allowPrivilegeEscalation")
		drops := fmt.Sprint(getList(sc, "capabilities", "drop"))
		seccomp := getStr(sc, "seccompProfile", "type")
		if seccomp == "" {
			seccomp = podSeccomp
		}
		cNonRoot, set := getBool(sc, "runAsNonRoot")
		if !set {
			cNonRoot = nonRoot
		}
		r.Expect("readOnlyRootFilesystem", ro, "securityContext %v", sc)
		r.Expect("allowPrivilegeEscalation false", apeSet && !ape, "securityContext %v", sc)
		r.Expect("capabilities drop ALL", drops == "[ALL]", "drop %s", drops)
		r.Expect("seccompProfile RuntimeDefault", seccomp == "RuntimeDefault", "seccomp %q", seccomp)
		r.Expect("runAsNonRoot", cNonRoot, "runAsNonRoot not true")

		res := getMap(c, "resources")
		_, hasCPU := getMap(res, "requests")["cpu"]
		_, hasMem := getMap(res, "requests")["memory"]
		_, hasMemLimit := getMap(res, "limits")["memory"]
		r.Expect("resources: cpu+memory requests, memory limit", hasCPU && hasMem && hasMemLimit, "resources %v", res)

		image := getStr(c, "image")
		r.Expect("image pinned (tag or digest, not latest)", image != "" && !strings.HasSuffix(image, ":latest") && (strings.Contains(image, "@sha256:") || strings.Contains(image[strings.LastIndex(image, "/")+1:], ":")), "image %q", image)

		// Mounts reference volumes; /tmp is a writable emptyDir (read-only root).
		tmpOK := false
		mountErr := ""
		for _, m := range getList(c, "volumeMounts") {
			vn := getStr(m, "name")
			v, ok := volumes[vn]
			if !ok {
				mountErr = fmt.Sprintf("mount %q has no volume", vn)
				continue
			}
			if getStr(m, "mountPath") == "/tmp" && get(v, "emptyDir") != nil {
				tmpOK = true
			}
		}
		r.Expect("volumeMounts reference pod volumes", mountErr == "", "%s", mountErr)
		r.Expect("/tmp is an emptyDir", tmpOK, "no emptyDir at /tmp")
		cacheDir := getStr(rel.Values, "config", "cacheDirectory")
		cacheOK := false
		for _, m := range getList(c, "volumeMounts") {
			if getStr(m, "mountPath") == cacheDir {
				v := volumes[getStr(m, "name")]
				cacheOK = get(v, "emptyDir") != nil || get(v, "persistentVolumeClaim") != nil
			}
		}
		r.Expect("spool/cache dir is a volume", cacheOK, "nothing writable mounted at %s", cacheDir)

		// Env: unique names, $(VAR) defined earlier, references resolvable.
		defined := map[string]bool{}
		envErr := ""
		for _, e := range getList(c, "env") {
			n := getStr(e, "name")
			if defined[n] {
				envErr = fmt.Sprintf("env %s defined twice", n)
			}
			for _, m := range envRefPattern.FindAllStringSubmatch(getStr(e, "value"), -1) {
				if !defined[m[1]] {
					envErr = fmt.Sprintf("env %s uses $(%s) before it is defined", n, m[1])
				}
			}
			defined[n] = true
			if ref := getMap(e, "valueFrom", "secretKeyRef"); ref != nil {
				if err := refOK(rel, w, "Secret", getStr(ref, "name"), getStr(ref, "key"), external); err != nil {
					envErr = fmt.Sprintf("env %s: %v", n, err)
				}
			}
			if ref := getMap(e, "valueFrom", "configMapKeyRef"); ref != nil {
				if err := refOK(rel, w, "ConfigMap", getStr(ref, "name"), getStr(ref, "key"), external); err != nil {
					envErr = fmt.Sprintf("env %s: %v", n, err)
				}
			}
		}
		for _, ef := range getList(c, "envFrom") {
			if n := getStr(ef, "secretRef", "name"); n != "" {
				if err := refOK(rel, w, "Secret", n, "", external); err != nil {
					envErr = fmt.Sprintf("envFrom: %v", err)
				}
			}
			if n := getStr(ef, "configMapRef", "name"); n != "" {
				if err := refOK(rel, w, "ConfigMap", n, "", external); err != nil {
					envErr = fmt.Sprintf("envFrom: %v", err)
				}
			}
		}
		r.Expect("env: unique, ordered, references resolve", envErr == "", "%s", envErr)
		r.Expect("MIRROR_CONFIG_FILE points into a mounted ConfigMap", configFileMounted(c, volumes), "MIRROR_CONFIG_FILE is not under a configMap mount")

		if longRunning {
			checkProbes(r, c)
			checkGrace(r, w, c)
		}
	}

	r.Scope(docName(w))
	// Volumes referencing Secrets/ConfigMaps/PVCs.
	volErr := ""
	usesChartConfig, usesChartSecret := false, false
	for _, v := range volumes {
		if n := getStr(v, "configMap", "name"); n != "" {
			for _, it := range getList(v, "configMap", "items") {
				if err := refOK(rel, w, "ConfigMap", n, getStr(it, "key"), external); err != nil {
					volErr = err.Error()
				}
			}
			if err := refOK(rel, w, "ConfigMap", n, "", external); err != nil {
				volErr = err.Error()
			}
			usesChartConfig = true
		}
		if n := getStr(v, "secret", "secretName"); n != "" {
			if err := refOK(rel, w, "Secret", n, "", external); err != nil {
				volErr = err.Error()
			}
		}
		if n := getStr(v, "persistentVolumeClaim", "claimName"); n != "" {
			if rel.find("PersistentVolumeClaim", n) == nil && n != getStr(rel.Values, "persistence", "existingClaim") {
				volErr = fmt.Sprintf("PVC %q is neither rendered nor persistence.existingClaim", n)
			}
		}
	}
	r.Expect("volume references resolve", volErr == "", "%s", volErr)
	for _, c := range containers(w) {
		for _, e := range getList(c, "env") {
			if n := getStr(e, "valueFrom", "secretKeyRef", "name"); n != "" && rel.find("Secret", n) != nil {
				usesChartSecret = true
			}
		}
	}
	ann := getMap(w.Obj, "spec", "template", "metadata", "annotations")
	if usesChartConfig {
		r.Expect("checksum/config annotation", getStr(ann, "checksum/config") != "", "pods mount the ConfigMap but do not roll when it changes")
	}
	if usesChartSecret || usesChartConfig {
		r.Expect("checksum/secret annotation", getStr(ann, "checksum/secret") != "", "pods use chart settings but do not roll when the Secret changes")
	}

	// ServiceAccount: chart-made, or the namespace default / a declared one.
	if sa := getStr(spec, "serviceAccountName"); sa != "" && sa != "default" {
		d := rel.find("ServiceAccount", sa)
		declared := sa == getStr(rel.Values, "serviceAccount", "name") || sa == getStr(rel.Values, "migrations", "serviceAccountName")
		r.Expect("serviceAccountName resolves", d != nil || declared, "ServiceAccount %q neither rendered nor declared in values", sa)
	}

	// Topology spread selectors select this workload's own pods.
	if longRunning {
		tsc := getList(spec, "topologySpreadConstraints")
		tscErr := ""
		for _, t := range tsc {
			if !subset(strMap(getMap(t, "labelSelector", "matchLabels")), labels) {
				tscErr = fmt.Sprintf("constraint on %s does not select these pods", getStr(t, "topologyKey"))
			}
		}
		replicas, hasReplicas := getNum(w.Obj, "spec", "replicas")
		if !hasReplicas || replicas > 1 {
			r.Expect("topologySpreadConstraints for a multi-pod workload", len(tsc) > 0, "no spread constraints")
		}
		r.Expect("topologySpreadConstraints select own pods", tscErr == "", "%s", tscErr)
	}
}

// refOK: a referenced Secret/ConfigMap (and key) is rendered, or is declared external in values.
func refOK(rel *Release, from *Doc, kind, name, key string, external map[string]bool) error {
	d := rel.find(kind, name)
	if d == nil {
		if kind == "Secret" && external[name] {
			return nil
		}
		return fmt.Errorf("%s %q is not rendered and not declared as an existing secret in values", kind, name)
	}
	if key != "" && !dataKeys(d)[key] {
		return fmt.Errorf("%s %q has no key %q", kind, name, key)
	}
	// A hook cannot use an ordinary release object: on install it does not
	// exist yet, on upgrade it still holds the previous release's data.
	if isHook(from) {
		if !isHook(d) {
			return fmt.Errorf("hook %s uses %s %q which is not a hook resource (missing on install, stale on upgrade)", docName(from), kind, name)
		}
		if hookWeight(d) >= hookWeight(from) {
			return fmt.Errorf("hook %s (weight %d) uses %s %q created at weight %d", docName(from), hookWeight(from), kind, name, hookWeight(d))
		}
	}
	return nil
}

func configFileMounted(c obj, volumes map[string]obj) bool {
	file := ""
	for _, e := range getList(c, "env") {
		if getStr(e, "name") == "MIRROR_CONFIG_FILE" {
			file = getStr(e, "value")
		}
	}
	if file == "" {
		return false
	}
	for _, m := range getList(c, "volumeMounts") {
		mp := strings.TrimSuffix(getStr(m, "mountPath"), "/") + "/"
		v := volumes[getStr(m, "name")]
		if strings.HasPrefix(file, mp) && get(v, "configMap") != nil {
			rest := strings.TrimPrefix(file, mp)
			for _, it := range getList(v, "configMap", "items") {
				if getStr(it, "path") == rest {
					return true
				}
			}
		}
	}
	return false
}

func checkProbes(r *Report, c obj) {
	s, l, rd := getMap(c, "startupProbe"), getMap(c, "livenessProbe"), getMap(c, "readinessProbe")
	r.Expect("startup, liveness and readiness probes", s != nil && l != nil && rd != nil, "startup=%v liveness=%v readiness=%v", s != nil, l != nil, rd != nil)
	r.Expect("liveness is /healthz", getStr(l, "httpGet", "path") == "/healthz", "liveness path %q", getStr(l, "httpGet", "path"))
	r.Expect("readiness is /readyz", getStr(rd, "httpGet", "path") == "/readyz", "readiness path %q", getStr(rd, "httpGet", "path"))
	r.Expect("probes are distinct", !reflect.DeepEqual(s, l) && !reflect.DeepEqual(l, rd) && !reflect.DeepEqual(s, rd), "two probes are identical")
	ports := map[string]bool{}
	for _, p := range getList(c, "ports") {
		ports[getStr(p, "name")] = true
		ports[getStr(p, "containerPort")] = true
	}
	bad := ""
	for name, p := range map[string]obj{"startup": s, "liveness": l, "readiness": rd} {
		if !ports[getStr(p, "httpGet", "port")] {
			bad = name
		}
	}
	r.Expect("probe ports are container ports", bad == "", "%s probe port %v", bad, get(getMap(c, bad+"Probe"), "httpGet", "port"))
}

// checkGrace: the kubelet must not SIGKILL before preStop + the app's drain are over.
func checkGrace(r *Report, w *Doc, c obj) {
	grace, ok := getNum(podSpec(w), "terminationGracePeriodSeconds")
	drain := 0.0
	for _, e := range getList(c, "env") {
		if getStr(e, "name") == "Mirror__ShutdownDrainSeconds" {
			fmt.Sscan(getStr(e, "value"), &drain)
		}
	}
	sleep, hasSleep := getNum(c, "lifecycle", "preStop", "sleep", "seconds")
	if !hasSleep {
		cmd := getList(c, "lifecycle", "preStop", "exec", "command")
		if len(cmd) == 2 && fmt.Sprint(cmd[0]) == "sleep" {
			fmt.Sscan(fmt.Sprint(cmd[1]), &sleep)
			hasSleep = true
		}
	}
	r.Expect("Mirror__ShutdownDrainSeconds set", drain > 0, "no drain setting")
	r.Expect("preStop hook", hasSleep, "no preStop sleep")
	r.Expect("terminationGracePeriodSeconds > preStop + drain", ok && grace > sleep+drain, "grace %v, preStop %v + drain %v", grace, sleep, drain)
}

func checkServices(r *Report, rel *Release) {
	for _, s := range rel.kind("Service") {
		r.Scope(docName(s))
		sel := strMap(getMap(s.Obj, "spec", "selector"))
		var matched []*Doc
		for _, w := range rel.workloads() {
			if getStr(w.Obj, "kind") != "Job" && subset(sel, strMap(podLabels(w))) {
				matched = append(matched, w)
			}
		}
		r.Expect("selector matches a workload", len(matched) > 0, "selector %v matches no Deployment/StatefulSet", sel)
		r.Expect("selector matches exactly one component", len(matched) <= 1, "selector %v matches %d workloads", sel, len(matched))
		portErr := ""
		for _, p := range getList(s.Obj, "spec", "ports") {
			tp := getStr(p, "targetPort")
			for _, w := range matched {
				found := false
				for _, c := range containers(w) {
					for _, cp := range getList(c, "ports") {
						if getStr(cp, "name") == tp || getStr(cp, "containerPort") == tp {
							found = true
						}
					}
				}
				if !found {
					portErr = fmt.Sprintf("targetPort %q not on %s", tp, docName(w))
				}
			}
		}
		r.Expect("targetPorts exist on the pods", portErr == "", "%s", portErr)
	}
}

func checkPDBs(r *Report, rel *Release) {
	for _, p := range rel.kind("PodDisruptionBudget") {
		r.Scope(docName(p))
		sel := strMap(getMap(p.Obj, "spec", "selector", "matchLabels"))
		n := 0
		for _, w := range rel.workloads() {
			if getStr(w.Obj, "kind") != "Job" && subset(sel, strMap(podLabels(w))) {
				n++
			}
		}
		r.Expect("selector matches exactly one workload", n == 1, "selector %v matches %d workloads", sel, n)
		_, hasMin := getMap(p.Obj, "spec")["minAvailable"]
		_, hasMax := getMap(p.Obj, "spec")["maxUnavailable"]
		r.Expect("exactly one of minAvailable/maxUnavailable", hasMin != hasMax, "minAvailable=%v maxUnavailable=%v", hasMin, hasMax)
	}
}

func checkHPAs(r *Report, rel *Release) {
	for _, h := range rel.kind("HorizontalPodAutoscaler") {
		r.Scope(docName(h))
		ref := getMap(h.Obj, "spec", "scaleTargetRef")
		target := rel.find(getStr(ref, "kind"), getStr(ref, "name"))
		r.Expect("scaleTargetRef is rendered", target != nil, "no %s %s", getStr(ref, "kind"), getStr(ref, "name"))
		if target != nil {
			_, has := getMap(target.Obj, "spec")["replicas"]
			r.Expect("target leaves replicas to the HPA", !has, "%s sets spec.replicas; every helm upgrade would reset the HPA's choice", docName(target))
		}
		min, _ := getNum(h.Obj, "spec", "minReplicas")
		max, _ := getNum(h.Obj, "spec", "maxReplicas")
		r.Expect("1 <= minReplicas <= maxReplicas", min >= 1 && min <= max, "min %v max %v", min, max)
		r.Expect("has metrics", len(getList(h.Obj, "spec", "metrics")) > 0, "no metrics")
	}
}

func checkIngresses(r *Report, rel *Release) {
	for _, ing := range rel.kind("Ingress") {
		r.Scope(docName(ing))
		bad := ""
		for _, rule := range getList(ing.Obj, "spec", "rules") {
			for _, p := range getList(rule, "http", "paths") {
				name := getStr(p, "backend", "service", "name")
				port, _ := getNum(p, "backend", "service", "port", "number")
				svc := rel.find("Service", name)
				ok := false
				for _, sp := range getList(svc.objOrNil(), "spec", "ports") {
					if n, _ := getNum(sp, "port"); n == port {
						ok = true
					}
				}
				if !ok {
					bad = fmt.Sprintf("backend %s:%v is not a rendered Service port", name, port)
				}
			}
		}
		r.Expect("backends are rendered Service ports", bad == "", "%s", bad)
	}
}

func (d *Doc) objOrNil() interface{} {
	if d == nil {
		return nil
	}
	return d.Obj
}

// secretSettingNames must never appear in the ConfigMap JSON.
var secretSettingNames = []string{"ConnectionString", "AccessKey", "SecretKey", "Password", "Username"}

func checkConfigAndSecrets(r *Report, rel *Release) {
	for _, cm := range rel.kind("ConfigMap") {
		r.Scope(docName(cm))
		for k, v := range getMap(cm.Obj, "data") {
			if !strings.HasSuffix(k, ".json") {
				continue
			}
			var parsed interface{}
			err := json.Unmarshal([]byte(fmt.Sprint(v)), &parsed)
			r.Check(k+" is valid JSON", err)
			leaked := findKeys(parsed, secretSettingNames)
			r.Expect(k+" holds no secrets", len(leaked) == 0, "secret settings in a ConfigMap: %v", leaked)
		}
	}
	for _, s := range rel.kind("Secret") {
		r.Scope(docName(s))
		bad := ""
		for k, v := range getMap(s.Obj, "data") {
			if _, err := base64.StdEncoding.DecodeString(fmt.Sprint(v)); err != nil {
				bad = k
			}
		}
		r.Expect("data is base64", bad == "", "key %s is not base64", bad)
		r.Expect("has data", len(dataKeys(s)) > 0, "empty Secret")
	}
}

func findKeys(v interface{}, names []string) []string {
	var out []string
	switch t := v.(type) {
	case map[string]interface{}:
		for k, e := range t {
			for _, n := range names {
				if strings.EqualFold(k, n) {
					out = append(out, k)
				}
			}
			out = append(out, findKeys(e, names)...)
		}
	case []interface{}:
		for _, e := range t {
			out = append(out, findKeys(e, names)...)
		}
	}
	sort.Strings(out)
	return out
}

// checkHooks: the migration Job and its hook-weighted settings.
func checkHooks(r *Report, rel *Release, external map[string]bool) {
	cluster, _ := getBool(rel.Values, "silo", "enabled")
	migrations, _ := getBool(rel.Values, "migrations", "enabled")
	var fullname string
	for _, cm := range rel.kind("ConfigMap") {
		if !isHook(cm) {
			fullname = getStr(cm.Obj, "metadata", "name")
		}
	}
	r.Scope("migration hook")
	// "<fullname>-migrate", the fullname cut so that the whole name stays <= 63.
	short := fullname
	if len(short) > 62-len("migrate") {
		short = strings.TrimRight(short[:62-len("migrate")], "-")
	}
	job := rel.find("Job", short+"-migrate")
	if !(cluster && migrations) {
		r.Expect("no migration Job outside cluster mode", len(rel.kind("Job")) == 0, "a Job is rendered")
		return
	}
	r.Expect("Job <fullname>-migrate rendered", job != nil, "no Job named %s-migrate", fullname)
	if job == nil {
		return
	}
	ann := getMap(job.Obj, "metadata", "annotations")
	hooks := strings.Split(getStr(ann, "helm.sh/hook"), ",")
	sort.Strings(hooks)
	r.Expect("helm.sh/hook is pre-install,pre-upgrade", strings.Join(hooks, ",") == "pre-install,pre-upgrade", "hook %q", getStr(ann, "helm.sh/hook"))
	pol := strings.Split(getStr(ann, "helm.sh/hook-delete-policy"), ",")
	sort.Strings(pol)
	r.Expect("hook-delete-policy before-hook-creation,hook-succeeded", strings.Join(pol, ",") == "before-hook-creation,hook-succeeded", "policy %q", getStr(ann, "helm.sh/hook-delete-policy"))
	var cmd []string
	for _, c := range containers(job) {
		for _, x := range append(getList(c, "command"), getList(c, "args")...) {
			cmd = append(cmd, fmt.Sprint(x))
		}
	}
	r.Expect("runs dotnet Silo.dll migrate", strings.Join(cmd, " ") == "dotnet Silo.dll migrate", "command %v", cmd)

	// Every other hook resource sorts before the Job, and its data equals the release copy.
	for _, kind := range []string{"ConfigMap", "Secret"} {
		for _, h := range rel.kind(kind) {
			if !isHook(h) {
				continue
			}
			r.Scope(docName(h))
			r.Expect("hook weight below the Job's", hookWeight(h) < hookWeight(job), "weight %d vs Job %d", hookWeight(h), hookWeight(job))
			main := rel.find(kind, fullname)
			r.Expect("same data as the release "+kind, main != nil && reflect.DeepEqual(getMap(main.Obj, "data"), getMap(h.Obj, "data")), "hook %s differs from %s/%s", kind, kind, fullname)
			p := getStr(h.Obj, "metadata", "annotations", "helm.sh/hook-delete-policy")
			r.Expect("hook resource is cleaned up", strings.Contains(p, "before-hook-creation"), "policy %q", p)
		}
	}
}

// ---------------------------------------------------------------- values files

// CheckValuesDocumented: every key of values.yaml has a comment above it.
func CheckValuesDocumented(r *Report, file string, raw []byte) {
	var root yaml.Node
	r.Scope(file)
	if err := yaml.Unmarshal(raw, &root); err != nil {
		r.Check("parses", err)
		return
	}
	var undocumented []string
	var walk func(n *yaml.Node, path string, inherited string)
	walk = func(n *yaml.Node, path string, inherited string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path, n.HeadComment)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				comment := k.HeadComment
				if i == 0 && comment == "" {
					comment = inherited // first key of a list item: the comment sits above "- "
				}
				if i == 0 && comment == "" && path == "" {
					comment = "document"
				}
				p := strings.TrimPrefix(path+"."+k.Value, ".")
				if strings.TrimSpace(comment) == "" {
					undocumented = append(undocumented, p)
				}
				walk(v, p, "")
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i), c.HeadComment)
			}
		}
	}
	walk(&root, "", "")
	r.Expect("every key has a comment above it", len(undocumented) == 0, "undocumented: %v", undocumented)
}

// CheckValuesKnown: every key set by an override file exists in values.yaml
// (typos would silently do nothing). Below a map that defaults to {} (or
// below upstreams.<registry>) anything goes.
func CheckValuesKnown(r *Report, file string, defaults, override obj) {
	r.Scope(file)
	var unknown []string
	var walk func(d, o obj, path string)
	walk = func(d, o obj, path string) {
		for k, v := range o {
			p := strings.TrimPrefix(path+"."+k, ".")
			dv, ok := d[k]
			if !ok {
				if path == "upstreams" {
					// a new registry: its keys must be those of docker.io's entry
					walk(getMap(defaults, "upstreams", "docker.io"), asMap(v), p)
					continue
				}
				unknown = append(unknown, p)
				continue
			}
			dm, dIsMap := dv.(obj)
			om, oIsMap := v.(obj)
			if dIsMap && oIsMap && len(dm) > 0 {
				if path == "upstreams" {
					walk(getMap(defaults, "upstreams", "docker.io"), om, p)
					continue
				}
				walk(dm, om, p)
			}
		}
	}
	walk(defaults, override, "")
	sort.Strings(unknown)
	r.Expect("every key exists in values.yaml", len(unknown) == 0, "unknown keys: %v", unknown)
}

func asMap(v interface{}) obj {
	m, _ := v.(obj)
	return m
}
