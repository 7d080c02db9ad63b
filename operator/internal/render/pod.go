package render

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	v1 "kafka-backup/operator/api/v1alpha1"
)

// Binary is where the image keeps kafka-backup (the Dockerfile's ENTRYPOINT).
// Containers name it as their command, so that what runs is explicit.
const Binary = "/usr/local/bin/kafka-backup"

// ConfigFile is the name of the rendered config in its ConfigMap and in ConfigDir.
const ConfigFile = "config.yaml"

// TerminationLog is where each container's binary writes its one-line JSON
// summary (--summary-file); the kubelet makes it the container's termination
// message, which the operator reads: it needs no access to storage.
const TerminationLog = "/dev/termination-log"

// Labels every object the operator creates carries, and what selects a
// resource's Jobs and pods.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelComponent = "app.kubernetes.io/component"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelOwnerKind = "kafka.oso.sh/kind"
	LabelOwnerName = "kafka.oso.sh/name"
)

// Labels is the label set of what a resource of kind named name creates.
func Labels(kind, name, component string) map[string]string {
	return map[string]string{
		LabelName:      "kafka-backup",
		LabelInstance:  name,
		LabelComponent: component,
		LabelManagedBy: "kafka-backup-operator",
		LabelOwnerKind: kind,
		LabelOwnerName: name,
	}
}

// Step is one invocation of the binary in a pod: its container name and its
// subcommand with arguments (the global flags come first, added by Pod).
type Step struct {
	Name string
	Args []string
}

// PodInput is what a pod needs besides its steps.
type PodInput struct {
	Image         string // the operator's default, used when run.Image is empty
	ConfigMapName string
	Labels        map[string]string
	Cluster       *v1.KafkaClusterSpec
	Storage       *v1.StorageSpec
	Encryption    *v1.EncryptionSpec
	Run           *v1.RunTemplate
	Metrics       *v1.MetricsSpec
	// The key that signs a drill's report (EnvDrillSigningKey).
	DrillSigningKey *v1.SecretKeyRef
	// RestartPolicy is Never for Jobs, Always for a Deployment.
	RestartPolicy corev1.RestartPolicy
}

// Pod is the pod template that runs steps in order: each but the last as an
// init container (so each starts only when the one before succeeded), the last
// as the container. Every step mounts the config read-only, gets the Secrets
// as environment variables and files, and runs as the image's non-root user
// with a read-only root filesystem (as deploy/kubernetes/cronjob.yaml does).
func Pod(in *PodInput, steps ...Step) corev1.PodTemplateSpec {
	run := in.Run
	if run == nil {
		run = &v1.RunTemplate{}
	}
	image := run.Image
	if image == "" {
		image = in.Image
	}
	pullPolicy := run.ImagePullPolicy
	if pullPolicy == "" {
		pullPolicy = corev1.PullIfNotPresent
	}
	resources := defaultResources()
	if run.Resources != nil {
		resources = *run.Resources
	}
	over := run.PodTemplate
	if over == nil {
		over = &v1.PodOverrides{}
	}

	meta := corev1.PodTemplateSpec{}
	meta.Labels = map[string]string{}
	for k, v := range in.Labels {
		meta.Labels[k] = v
	}
	if over.Metadata != nil {
		for k, v := range over.Metadata.Labels {
			if _, ours := meta.Labels[k]; !ours {
				meta.Labels[k] = v
			}
		}
		if len(over.Metadata.Annotations) > 0 {
			meta.Annotations = map[string]string{}
			for k, v := range over.Metadata.Annotations {
				meta.Annotations[k] = v
			}
		}
	}

	global := []string{"--summary-file", TerminationLog}
	var ports []corev1.ContainerPort
	var probe *corev1.Probe
	if m := in.Metrics; m != nil && m.Enabled {
		port := m.Port
		if port == 0 {
			port = 9400
		}
		global = append(global, "--metrics-port", strconv.Itoa(int(port)))
		ports = []corev1.ContainerPort{{Name: "metrics", ContainerPort: port, Protocol: corev1.ProtocolTCP}}
		if meta.Annotations == nil {
			meta.Annotations = map[string]string{}
		}
		meta.Annotations["prometheus.io/scrape"] = "true"
		meta.Annotations["prometheus.io/port"] = strconv.Itoa(int(port))
		meta.Annotations["prometheus.io/path"] = "/metrics"
		probe = &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: "/health", Port: intstr.FromString("metrics")}},
			InitialDelaySeconds: 10, PeriodSeconds: 30, TimeoutSeconds: 5, FailureThreshold: 3,
		}
	}

	volumes, mounts := volumes(in)
	volumes = append(volumes, over.Volumes...)
	mounts = append(mounts, over.VolumeMounts...)
	env := append(secretEnv(in), over.Env...)
	var envFrom []corev1.EnvFromSource
	if in.Storage != nil && in.Storage.CredentialsSecretRef != nil {
		envFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: in.Storage.CredentialsSecretRef.Name}}}}
	}

	container := func(s Step) corev1.Container {
		c := corev1.Container{
			Name:                     s.Name,
			Image:                    image,
			ImagePullPolicy:          pullPolicy,
			Command:                  []string{Binary},
			Args:                     append(append([]string{}, global...), s.Args...),
			Env:                      env,
			EnvFrom:                  envFrom,
			Resources:                resources,
			VolumeMounts:             mounts,
			TerminationMessagePath:   TerminationLog,
			TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
			SecurityContext: &corev1.SecurityContext{
				AllowPrivilegeEscalation: ptr.To(false),
				ReadOnlyRootFilesystem:   ptr.To(true),
				Privileged:               ptr.To(false),
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			},
		}
		// Metrics are served by the step that runs longest: the first (backup).
		if len(ports) > 0 && s.Name == steps[0].Name {
			c.Ports, c.LivenessProbe = ports, probe
		}
		return c
	}

	spec := corev1.PodSpec{
		RestartPolicy:                in.RestartPolicy,
		ServiceAccountName:           over.ServiceAccountName,
		AutomountServiceAccountToken: ptr.To(false),
		NodeSelector:                 over.NodeSelector,
		Tolerations:                  over.Tolerations,
		PriorityClassName:            over.PriorityClassName,
		ImagePullSecrets:             over.ImagePullSecrets,
		Volumes:                      volumes,
		SecurityContext: &corev1.PodSecurityContext{
			RunAsNonRoot:   ptr.To(true),
			RunAsUser:      ptr.To[int64](10001),
			RunAsGroup:     ptr.To[int64](10001),
			FSGroup:        ptr.To[int64](10001),
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
	for i, s := range steps {
		c := container(s)
		if i == len(steps)-1 {
			spec.Containers = append(spec.Containers, c)
		} else {
			spec.InitContainers = append(spec.InitContainers, c)
		}
	}
	meta.Spec = spec
	return meta
}

func defaultResources() corev1.ResourceRequirements {
	// A backup holds up to backup.max_buffered_bytes (128 MiB) of blocks and
	// upload parts, plus half as much in segments still uploading.
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("500m"),
			corev1.ResourceMemory: resource.MustParse("512Mi"),
		},
		Limits: corev1.ResourceList{
			corev1.ResourceMemory: resource.MustParse("1Gi"),
		},
	}
}

// volumes is the config, a scratch /tmp, the TLS material and a PVC.
func volumes(in *PodInput) ([]corev1.Volume, []corev1.VolumeMount) {
	vols := []corev1.Volume{
		{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: in.ConfigMapName}}}},
		{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
			SizeLimit: ptr.To(resource.MustParse("64Mi"))}}},
	}
	mounts := []corev1.VolumeMount{
		{Name: "config", MountPath: ConfigDir, ReadOnly: true},
		{Name: "tmp", MountPath: "/tmp"},
	}
	if tls := tlsOf(in.Cluster); tls != nil {
		var sources []corev1.VolumeProjection
		add := func(ref *v1.SecretKeyRef, file string) {
			if ref != nil {
				sources = append(sources, corev1.VolumeProjection{Secret: &corev1.SecretProjection{
					LocalObjectReference: corev1.LocalObjectReference{Name: ref.Name},
					Items:                []corev1.KeyToPath{{Key: ref.Key, Path: file}}}})
			}
		}
		add(tls.CASecretRef, "ca.crt")
		add(tls.CertificateSecretRef, "client.crt")
		add(tls.KeySecretRef, "client.key")
		if len(sources) > 0 {
			vols = append(vols, corev1.Volume{Name: "tls", VolumeSource: corev1.VolumeSource{
				Projected: &corev1.ProjectedVolumeSource{Sources: sources, DefaultMode: ptr.To[int32](0o440)}}})
			mounts = append(mounts, corev1.VolumeMount{Name: "tls", MountPath: TLSDir, ReadOnly: true})
		}
	}
	if k := kerberosOf(in.Cluster); k != nil {
		sources := []corev1.VolumeProjection{{Secret: &corev1.SecretProjection{
			LocalObjectReference: corev1.LocalObjectReference{Name: k.KeytabSecretRef.Name},
			Items:                []corev1.KeyToPath{{Key: k.KeytabSecretRef.Key, Path: "client.keytab"}}}}}
		if ref := k.Krb5ConfigMapRef; ref != nil {
			sources = append(sources, corev1.VolumeProjection{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: ref.Name},
				Items:                []corev1.KeyToPath{{Key: ref.Key, Path: "krb5.conf"}}}})
		}
		vols = append(vols, corev1.Volume{Name: "kerberos", VolumeSource: corev1.VolumeSource{
			Projected: &corev1.ProjectedVolumeSource{Sources: sources, DefaultMode: ptr.To[int32](0o440)}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "kerberos", MountPath: KerberosDir, ReadOnly: true})
	}
	if in.Storage != nil && in.Storage.PVC != nil {
		vols = append(vols, corev1.Volume{Name: "backups", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: in.Storage.PVC.ClaimName}}})
		mounts = append(mounts, corev1.VolumeMount{Name: "backups", MountPath: PVCDir})
	}
	return vols, mounts
}

// secretEnv is the environment variables the rendered config names, each from
// its Secret key.
func secretEnv(in *PodInput) []corev1.EnvVar {
	var env []corev1.EnvVar
	add := func(name string, ref *v1.SecretKeyRef) {
		if ref != nil {
			env = append(env, corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{
					LocalObjectReference: corev1.LocalObjectReference{Name: ref.Name}, Key: ref.Key}}})
		}
	}
	if in.Cluster != nil && in.Cluster.Security != nil {
		add(EnvSASLPassword, in.Cluster.Security.SaslPasswordSecretRef)
		if tls := in.Cluster.Security.TLS; tls != nil {
			add(EnvSSLKeyPassword, tls.KeyPasswordSecretRef)
		}
		if o := in.Cluster.Security.OAuth; o != nil {
			add(EnvOAuthSecret, &o.ClientSecretSecretRef)
		}
	}
	if k := kerberosOf(in.Cluster); k != nil && k.Krb5ConfigMapRef != nil {
		env = append(env, corev1.EnvVar{Name: "KRB5_CONFIG", Value: KerberosDir + "/krb5.conf"})
	}
	if in.Encryption != nil {
		add(EnvEncryptionKey, &in.Encryption.KeySecretRef)
	}
	add(EnvDrillSigningKey, in.DrillSigningKey)
	return env
}

func kerberosOf(c *v1.KafkaClusterSpec) *v1.KafkaKerberosSpec {
	if c == nil || c.Security == nil {
		return nil
	}
	return c.Security.Kerberos
}

func tlsOf(c *v1.KafkaClusterSpec) *v1.KafkaTLSSpec {
	if c == nil || c.Security == nil {
		return nil
	}
	return c.Security.TLS
}
