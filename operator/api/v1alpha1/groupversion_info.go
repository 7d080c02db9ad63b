// Package v1alpha1 holds the kafka.oso.sh/v1alpha1 resources: KafkaBackup,
// KafkaRestore and KafkaBackupValidation. The group and version are the seed
// document's, so its manifest applies as written.
//
// +kubebuilder:object:generate=true
// +groupName=kafka.oso.sh
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every resource here.
	GroupVersion = schema.GroupVersion{Group: "kafka.oso.sh", Version: "v1alpha1"}

	// SchemeBuilder registers the resources with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the resources of this group and version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
