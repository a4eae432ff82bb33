package kubenode

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/podvisor/podvisor/pod/kube"
)

// manifest is what the daemon is sent for one Pod: the Pod, and the
// ConfigMaps and Secrets it reads.
type manifest struct {
	pod                 []byte
	configMaps, secrets [][]byte
	// versions names the ConfigMaps and Secrets sent with their
	// resourceVersions: when it changes, the files are refreshed.
	versions string
	// tokens is when the first service account token expires (zero: none).
	tokens time.Time
}

// buildManifest makes the daemon's request for a Pod: a copy named by
// PodName and marked with the node, its service account tokens requested
// from the API server and given as Secrets, and every ConfigMap and Secret
// its volumes and environment name that exists.
func (p *provider) buildManifest(ctx context.Context, kp *corev1.Pod) (*manifest, error) {
	mp := kp.DeepCopy()
	mp.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
	mp.Status = corev1.PodStatus{}
	mp.ManagedFields = nil
	mp.ResourceVersion = ""
	if mp.Annotations == nil {
		mp.Annotations = map[string]string{}
	}
	mp.Annotations[kube.NameAnnotation] = PodName(kp.Namespace, kp.Name)
	mp.Annotations[NodeAnnotation] = p.cfg.NodeName

	var extraSecrets []*corev1.Secret
	for i := range mp.Spec.Volumes {
		v := &mp.Spec.Volumes[i]
		if v.Projected == nil {
			continue
		}
		for j := range v.Projected.Sources {
			src := &v.Projected.Sources[j]
			if src.ServiceAccountToken == nil {
				continue
			}
			s, err := p.tokenSecret(ctx, kp, v.Name, j, src.ServiceAccountToken)
			if err != nil {
				return nil, fmt.Errorf("spec.volumes[%d].projected.sources[%d].serviceAccountToken: %w", i, j, err)
			}
			extraSecrets = append(extraSecrets, s)
			*src = corev1.VolumeProjection{Secret: &corev1.SecretProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: s.Name},
				Items:                []corev1.KeyToPath{{Key: "token", Path: src.ServiceAccountToken.Path}},
			}}
		}
	}
	cms, secs := referenced(&mp.Spec)
	m := &manifest{}
	for _, s := range extraSecrets {
		if exp := tokenExpiry(s); !exp.IsZero() && (m.tokens.IsZero() || exp.Before(m.tokens)) {
			m.tokens = exp
		}
	}
	var err error
	if m.pod, err = json.Marshal(mp); err != nil {
		return nil, err
	}
	for _, name := range cms {
		cm, err := p.cms.ConfigMaps(kp.Namespace).Get(name)
		if apierrors.IsNotFound(err) {
			continue // optional, or the translation names it
		} else if err != nil {
			return nil, err
		}
		m.versions += "configmap/" + name + "@" + cm.ResourceVersion + " "
		c := cm.DeepCopy()
		c.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}
		c.ManagedFields = nil
		b, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		m.configMaps = append(m.configMaps, b)
	}
	for _, name := range secs {
		s, err := p.secs.Secrets(kp.Namespace).Get(name)
		if apierrors.IsNotFound(err) {
			continue
		} else if err != nil {
			return nil, err
		}
		m.versions += "secret/" + name + "@" + s.ResourceVersion + " "
		extraSecrets = append(extraSecrets, s)
	}
	for _, s := range extraSecrets {
		c := s.DeepCopy()
		c.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}
		c.ManagedFields = nil
		b, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		m.secrets = append(m.secrets, b)
	}
	return m, nil
}

// tokenSecret asks the API server for a service account token for the
// Pod (TokenRequest, bound to the Pod, as kubelet does) and wraps it in a
// Secret of the Pod's namespace that exists only in the daemon's request.
func (p *provider) tokenSecret(ctx context.Context, kp *corev1.Pod, volume string, n int, src *corev1.ServiceAccountTokenProjection) (*corev1.Secret, error) {
	sa := kp.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	tr := &authv1.TokenRequest{Spec: authv1.TokenRequestSpec{
		ExpirationSeconds: src.ExpirationSeconds,
		BoundObjectRef:    &authv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: kp.Name, UID: kp.UID},
	}}
	if src.Audience != "" {
		tr.Spec.Audiences = []string{src.Audience}
	}
	out, err := p.kc.CoreV1().ServiceAccounts(kp.Namespace).CreateToken(ctx, sa, tr, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("token of service account %q: %w", sa, err)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("podvisor-token-%s-%s-%d", kp.Name, volume, n), Namespace: kp.Namespace,
			Annotations: map[string]string{tokenExpiryAnnotation: out.Status.ExpirationTimestamp.UTC().Format(time.RFC3339)}},
		Data: map[string][]byte{"token": []byte(out.Status.Token)},
	}, nil
}

// tokenExpiryAnnotation carries a token Secret's expiry, for the agent.
const tokenExpiryAnnotation = "podvisor.io/token-expiry"

// tokenExpiry is when a token Secret made by tokenSecret expires; zero for
// another Secret.
func tokenExpiry(s *corev1.Secret) time.Time {
	t, _ := time.Parse(time.RFC3339, s.Annotations[tokenExpiryAnnotation])
	return t
}

// versionsOf names the ConfigMaps and Secrets a Pod reads, as they are now
// in the listers, with their resourceVersions (as buildManifest does,
// without asking the API server for anything).
func (p *provider) versionsOf(kp *corev1.Pod) string {
	cms, secs := referenced(&kp.Spec)
	v := ""
	for _, name := range cms {
		if cm, err := p.cms.ConfigMaps(kp.Namespace).Get(name); err == nil {
			v += "configmap/" + name + "@" + cm.ResourceVersion + " "
		}
	}
	for _, name := range secs {
		if s, err := p.secs.Secrets(kp.Namespace).Get(name); err == nil {
			v += "secret/" + name + "@" + s.ResourceVersion + " "
		}
	}
	return v
}

// referenced lists the ConfigMaps and Secrets a pod spec names, sorted.
func referenced(s *corev1.PodSpec) (configMaps, secrets []string) {
	cm, sec := map[string]bool{}, map[string]bool{}
	for _, v := range s.Volumes {
		if v.ConfigMap != nil {
			cm[v.ConfigMap.Name] = true
		}
		if v.Secret != nil {
			sec[v.Secret.SecretName] = true
		}
		if v.Projected != nil {
			for _, src := range v.Projected.Sources {
				if src.ConfigMap != nil {
					cm[src.ConfigMap.Name] = true
				}
				if src.Secret != nil {
					sec[src.Secret.Name] = true
				}
			}
		}
	}
	for _, list := range [][]corev1.Container{s.InitContainers, s.Containers} {
		for _, c := range list {
			for _, e := range c.Env {
				if e.ValueFrom == nil {
					continue
				}
				if r := e.ValueFrom.ConfigMapKeyRef; r != nil {
					cm[r.Name] = true
				}
				if r := e.ValueFrom.SecretKeyRef; r != nil {
					sec[r.Name] = true
				}
			}
			for _, e := range c.EnvFrom {
				if e.ConfigMapRef != nil {
					cm[e.ConfigMapRef.Name] = true
				}
				if e.SecretRef != nil {
					sec[e.SecretRef.Name] = true
				}
			}
		}
	}
	return sortedKeys(cm), sortedKeys(sec)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
