package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SecretKeyRef names one key of a Secret in the resource's namespace. The
// operator never reads it: the pod gets it as an environment variable or a
// mounted file, so no secret value passes through the operator, the rendered
// ConfigMap or a status.
type SecretKeyRef struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Key in the Secret.
	// +kubebuilder:validation:MinLength=1
	Key string `json:"key"`
}

// SecretRef names a whole Secret; each of its keys becomes an environment
// variable of the pod (envFrom).
type SecretRef struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
}

// KafkaClusterSpec is a Kafka cluster to read from or write to: the `source`
// or `target` section of the configuration (docs/config.md, "Cluster").
type KafkaClusterSpec struct {
	// Brokers to bootstrap from, host:port.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:items:Pattern=`^[^\s:,]+:[0-9]{1,5}$`
	BootstrapServers []string `json:"bootstrapServers"`
	// How to authenticate and encrypt the connection; PLAINTEXT when unset.
	// +optional
	Security *KafkaSecuritySpec `json:"security,omitempty"`
	// Extra librdkafka properties, passed through.
	// +optional
	ClientProperties map[string]string `json:"clientProperties,omitempty"`
	// How long to wait for the cluster before the run fails (exit 5); default 30.
	// +kubebuilder:validation:Minimum=1
	// +optional
	ConnectTimeoutSecs *int32 `json:"connectTimeoutSecs,omitempty"`
}

// KafkaSecuritySpec is the `security` block of a cluster.
// +kubebuilder:validation:XValidation:rule="!has(self.saslMechanism) || self.securityProtocol in ['SASL_PLAINTEXT', 'SASL_SSL']",message="saslMechanism needs securityProtocol SASL_PLAINTEXT or SASL_SSL"
// +kubebuilder:validation:XValidation:rule="!(self.securityProtocol in ['SASL_PLAINTEXT', 'SASL_SSL']) || (has(self.saslMechanism) && (self.saslMechanism in ['AWS_MSK_IAM', 'OAUTHBEARER', 'GSSAPI'] || (has(self.saslUsername) && has(self.saslPasswordSecretRef))))",message="securityProtocol SASL_* needs saslMechanism, and saslUsername and saslPasswordSecretRef unless it is AWS_MSK_IAM, OAUTHBEARER or GSSAPI"
// +kubebuilder:validation:XValidation:rule="!has(self.saslMechanism) || self.saslMechanism != 'AWS_MSK_IAM' || (!has(self.saslUsername) && !has(self.saslPasswordSecretRef))",message="AWS_MSK_IAM signs with the pod's AWS credentials (IRSA, the environment): no saslUsername or saslPasswordSecretRef"
// +kubebuilder:validation:XValidation:rule="!has(self.awsRegion) || (has(self.saslMechanism) && self.saslMechanism == 'AWS_MSK_IAM')",message="awsRegion is for saslMechanism AWS_MSK_IAM"
// +kubebuilder:validation:XValidation:rule="has(self.oauth) == (has(self.saslMechanism) && self.saslMechanism == 'OAUTHBEARER')",message="saslMechanism OAUTHBEARER needs oauth, and oauth is for OAUTHBEARER only"
// +kubebuilder:validation:XValidation:rule="has(self.kerberos) == (has(self.saslMechanism) && self.saslMechanism == 'GSSAPI')",message="saslMechanism GSSAPI needs kerberos, and kerberos is for GSSAPI only"
// +kubebuilder:validation:XValidation:rule="!has(self.saslMechanism) || !(self.saslMechanism in ['OAUTHBEARER', 'GSSAPI']) || (!has(self.saslUsername) && !has(self.saslPasswordSecretRef))",message="OAUTHBEARER and GSSAPI log in with oauth or kerberos: no saslUsername or saslPasswordSecretRef"
// +kubebuilder:validation:XValidation:rule="!has(self.tls) || self.securityProtocol in ['SSL', 'SASL_SSL']",message="tls needs securityProtocol SSL or SASL_SSL"
type KafkaSecuritySpec struct {
	// +kubebuilder:validation:Enum=PLAINTEXT;SSL;SASL_PLAINTEXT;SASL_SSL
	// +kubebuilder:default=PLAINTEXT
	SecurityProtocol string `json:"securityProtocol,omitempty"`
	// AWS_MSK_IAM: Amazon MSK's IAM authentication, signed with the pod's AWS
	// credentials (EKS IRSA through the service account, or AWS_* variables).
	// OAUTHBEARER: a JWT from an OIDC identity provider (oauth). GSSAPI:
	// Kerberos (kerberos).
	// +kubebuilder:validation:Enum=PLAIN;SCRAM-SHA-256;SCRAM-SHA-512;AWS_MSK_IAM;OAUTHBEARER;GSSAPI
	// +optional
	SaslMechanism string `json:"saslMechanism,omitempty"`
	// AWS_MSK_IAM: the cluster's region; by default the one the MSK broker
	// addresses name.
	// +optional
	AwsRegion string `json:"awsRegion,omitempty"`
	// +optional
	SaslUsername string `json:"saslUsername,omitempty"`
	// The SASL password: a key of a Secret.
	// +optional
	SaslPasswordSecretRef *SecretKeyRef `json:"saslPasswordSecretRef,omitempty"`
	// TLS material, each a key of a Secret (PEM), mounted read-only into the pod.
	// +optional
	TLS *KafkaTLSSpec `json:"tls,omitempty"`
	// OAUTHBEARER: the OIDC client credentials grant.
	// +optional
	OAuth *KafkaOAuthSpec `json:"oauth,omitempty"`
	// GSSAPI: the Kerberos principal and its keytab.
	// +optional
	Kerberos *KafkaKerberosSpec `json:"kerberos,omitempty"`
}

// KafkaOAuthSpec is how an OAUTHBEARER client gets its token: the client
// credentials grant at the identity provider's token endpoint.
type KafkaOAuthSpec struct {
	// +kubebuilder:validation:Pattern=`^https?://`
	TokenEndpointURL string `json:"tokenEndpointUrl"`
	// +kubebuilder:validation:MinLength=1
	ClientID string `json:"clientId"`
	// The client secret: a key of a Secret.
	ClientSecretSecretRef SecretKeyRef `json:"clientSecretSecretRef"`
	// The scope asked for, when the provider wants one.
	// +optional
	Scope string `json:"scope,omitempty"`
}

// KafkaKerberosSpec is a GSSAPI client's Kerberos identity.
type KafkaKerberosSpec struct {
	// The principal, name@REALM.
	// +kubebuilder:validation:Pattern=`^[^@\s]+@[^@\s]+$`
	Principal string `json:"principal"`
	// The keytab holding the principal's keys: a key of a Secret, mounted
	// read-only into the pod.
	KeytabSecretRef SecretKeyRef `json:"keytabSecretRef"`
	// The brokers' service name (their principals are SERVICE/host@REALM);
	// kafka by default.
	// +optional
	ServiceName string `json:"serviceName,omitempty"`
	// krb5.conf (the realm and its KDCs): a key of a ConfigMap; the image's
	// /etc/krb5.conf when unset.
	// +optional
	Krb5ConfigMapRef *ConfigMapKeyRef `json:"krb5ConfigMapRef,omitempty"`
}

// ConfigMapKeyRef names one key of a ConfigMap in the resource's namespace.
type ConfigMapKeyRef struct {
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// +kubebuilder:validation:MinLength=1
	Key string `json:"key"`
}

// KafkaTLSSpec is the TLS material of a connection. Without caSecretRef the
// system's CAs are trusted.
// +kubebuilder:validation:XValidation:rule="has(self.certificateSecretRef) == has(self.keySecretRef)",message="certificateSecretRef and keySecretRef come together (a client certificate and its key)"
// +kubebuilder:validation:XValidation:rule="!has(self.keyPasswordSecretRef) || has(self.keySecretRef)",message="keyPasswordSecretRef needs keySecretRef"
type KafkaTLSSpec struct {
	// +optional
	CASecretRef *SecretKeyRef `json:"caSecretRef,omitempty"`
	// +optional
	CertificateSecretRef *SecretKeyRef `json:"certificateSecretRef,omitempty"`
	// +optional
	KeySecretRef *SecretKeyRef `json:"keySecretRef,omitempty"`
	// +optional
	KeyPasswordSecretRef *SecretKeyRef `json:"keyPasswordSecretRef,omitempty"`
}

// StorageSpec is where backups live: the `storage` section (docs/config.md,
// "Storage"). Credentials are never in it: credentialsSecretRef's keys become
// the providers' usual environment variables (AWS_ACCESS_KEY_ID,
// AZURE_STORAGE_CONNECTION_STRING, GOOGLE_APPLICATION_CREDENTIALS, ...).
// +kubebuilder:validation:XValidation:rule="self.storageType != 's3' || has(self.s3)",message="storageType s3 needs s3 with its bucket",fieldPath=".s3"
// +kubebuilder:validation:XValidation:rule="self.storageType != 'azure' || has(self.azure)",message="storageType azure needs azure with its container",fieldPath=".azure"
// +kubebuilder:validation:XValidation:rule="self.storageType != 'gcs' || has(self.gcs)",message="storageType gcs needs gcs with its bucket",fieldPath=".gcs"
// +kubebuilder:validation:XValidation:rule="self.storageType != 'filesystem' || has(self.filesystem)",message="storageType filesystem needs filesystem with its path",fieldPath=".filesystem"
// +kubebuilder:validation:XValidation:rule="self.storageType != 'pvc' || has(self.pvc)",message="storageType pvc needs pvc with its claimName",fieldPath=".pvc"
// +kubebuilder:validation:XValidation:rule="[has(self.s3), has(self.azure), has(self.gcs), has(self.filesystem), has(self.pvc)].filter(x, x).size() <= 1",message="give the settings of one backend only, the one storageType names"
type StorageSpec struct {
	// +kubebuilder:validation:Enum=s3;azure;gcs;filesystem;pvc
	StorageType string `json:"storageType"`
	// +optional
	S3 *S3Storage `json:"s3,omitempty"`
	// +optional
	Azure *AzureStorage `json:"azure,omitempty"`
	// +optional
	GCS *GCSStorage `json:"gcs,omitempty"`
	// A directory of the pod (mount it with podTemplate.volumes).
	// +optional
	Filesystem *FilesystemStorage `json:"filesystem,omitempty"`
	// A PersistentVolumeClaim the operator mounts at /var/lib/kafka-backup.
	// +optional
	PVC *PVCStorage `json:"pvc,omitempty"`
	// A Secret whose keys become the pod's environment: the storage provider's credentials.
	// +optional
	CredentialsSecretRef *SecretRef `json:"credentialsSecretRef,omitempty"`
	// Cap on bytes moved per second to and from an object store; none when unset.
	// +kubebuilder:validation:Minimum=1024
	// +optional
	MaxBytesPerSec *int64 `json:"maxBytesPerSec,omitempty"`
}

// S3Storage is an S3 bucket or an S3-compatible store.
type S3Storage struct {
	// +kubebuilder:validation:MinLength=3
	Bucket string `json:"bucket"`
	// Default: AWS_REGION, AWS_DEFAULT_REGION, else us-east-1.
	// +optional
	Region string `json:"region,omitempty"`
	// +optional
	Prefix string `json:"prefix,omitempty"`
	// An S3-compatible server, such as http://minio:9000.
	// +kubebuilder:validation:Pattern=`^https?://`
	// +optional
	Endpoint string `json:"endpoint,omitempty"`
	// +optional
	PathStyle *bool `json:"pathStyle,omitempty"`
	// +optional
	StorageClass string `json:"storageClass,omitempty"`
	// +kubebuilder:validation:Enum=AES256;"aws:kms"
	// +optional
	ServerSideEncryption string `json:"serverSideEncryption,omitempty"`
	// +optional
	KMSKeyID string `json:"kmsKeyId,omitempty"`
}

// AzureStorage is an Azure Blob container.
type AzureStorage struct {
	// +kubebuilder:validation:MinLength=3
	Container string `json:"container"`
	// Default: AZURE_STORAGE_ACCOUNT or the connection string's.
	// +optional
	Account string `json:"account,omitempty"`
	// +optional
	Prefix string `json:"prefix,omitempty"`
	// +kubebuilder:validation:Pattern=`^https?://`
	// +optional
	Endpoint string `json:"endpoint,omitempty"`
}

// GCSStorage is a Google Cloud Storage bucket.
type GCSStorage struct {
	// +kubebuilder:validation:MinLength=3
	Bucket string `json:"bucket"`
	// +optional
	Prefix string `json:"prefix,omitempty"`
	// +kubebuilder:validation:Pattern=`^https?://`
	// +optional
	Endpoint string `json:"endpoint,omitempty"`
}

// FilesystemStorage is a directory of the pod.
type FilesystemStorage struct {
	// +kubebuilder:validation:Pattern=`^/`
	Path string `json:"path"`
}

// PVCStorage is a PersistentVolumeClaim, mounted at /var/lib/kafka-backup.
type PVCStorage struct {
	// +kubebuilder:validation:MinLength=1
	ClaimName string `json:"claimName"`
	// A directory inside the volume.
	// +optional
	Path string `json:"path,omitempty"`
}

// EncryptionSpec encrypts backups at rest (AES-256-GCM; docs/config.md,
// "Encryption"). The key reaches the pod as an environment variable.
type EncryptionSpec struct {
	// The 32-byte key (64 hex digits or base64): a key of a Secret.
	KeySecretRef SecretKeyRef `json:"keySecretRef"`
}

// RunTemplate is what every pod the operator creates may override.
type RunTemplate struct {
	// The kafka-backup image; default: the operator's --image.
	// +optional
	Image string `json:"image,omitempty"`
	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	// +optional
	ImagePullPolicy corev1.PullPolicy `json:"imagePullPolicy,omitempty"`
	// The container's resources; default requests 500m CPU and 512Mi, limit 1Gi.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
	// +optional
	PodTemplate *PodOverrides `json:"podTemplate,omitempty"`
}

// PodOverrides are the parts of the pod a cluster's policies usually dictate.
type PodOverrides struct {
	// Labels and annotations added to the pod.
	// +optional
	Metadata *PodMetadata `json:"metadata,omitempty"`
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	// +optional
	PriorityClassName string `json:"priorityClassName,omitempty"`
	// +optional
	ImagePullSecrets []corev1.LocalObjectReference `json:"imagePullSecrets,omitempty"`
	// Extra environment variables of the container.
	// +optional
	Env []corev1.EnvVar `json:"env,omitempty"`
	// Extra volumes of the pod, and where the container mounts them.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	Volumes []corev1.Volume `json:"volumes,omitempty"`
	// +optional
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts,omitempty"`
}

// PodMetadata is the labels and annotations added to a pod.
type PodMetadata struct {
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// RunResult is what one run reported: the binary's summary, read from its
// pod's termination message (kafka-backup --summary-file /dev/termination-log).
type RunResult struct {
	// The Job that ran it.
	JobName string `json:"jobName"`
	// Succeeded or Failed.
	Result string `json:"result"`
	// The binary's exit code, and its meaning (docs/exit-codes.md).
	// +optional
	ExitCode *int32 `json:"exitCode,omitempty"`
	// +optional
	Reason string `json:"reason,omitempty"`
	// The error the binary printed (never a secret: the binary masks them).
	// +optional
	Message string `json:"message,omitempty"`
	// +optional
	BackupID string `json:"backupId,omitempty"`
	// A drill's id: its report is drills/<backupId>/<drillId>.json beside the backup.
	// +optional
	DrillID string `json:"drillId,omitempty"`
	// +optional
	Records *int64 `json:"records,omitempty"`
	// +optional
	Bytes *int64 `json:"bytes,omitempty"`
	// +optional
	DurationSeconds string `json:"durationSeconds,omitempty"`
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
}

// BackupReference names a backup: one a KafkaBackup made, or one in the storage given.
type BackupReference struct {
	// A KafkaBackup in this namespace; its storage and encryption are used.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// The backup id, or latest.
	// +kubebuilder:default=latest
	// +optional
	BackupID string `json:"backupId,omitempty"`
}

// Condition types and reasons the resources report.
const (
	ConditionReady           = "Ready"
	ConditionSuspended       = "Suspended"
	ConditionBackupSucceeded = "BackupSucceeded"
	ConditionBackupFailed    = "BackupFailed"
	ConditionRunning         = "Running"
	ConditionSucceeded       = "Succeeded"
	ConditionFailed          = "Failed"
)
