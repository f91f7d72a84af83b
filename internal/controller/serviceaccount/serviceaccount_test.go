package serviceaccount_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kserver.dev/kserver/internal/controller/controllertest"
	"kserver.dev/kserver/internal/controller/serviceaccount"
	"kserver.dev/kserver/internal/e2e"
)

const ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

func TestDefaultServiceAccountAndRootCA(t *testing.T) {
	env := controllertest.New(t, e2e.Start(t).RestConfig(t))
	c := serviceaccount.New(serviceaccount.Config{Set: env.Set, Informers: env.Inf, RootCA: []byte(ca)})
	env.Start()
	ns, err := env.Set.Namespaces().Create(env.Ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	env.Cached(env.Inf.Namespaces(), ns)
	if err := c.Sync(env.Ctx, "team"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Set.ServiceAccounts("team").Get(env.Ctx, "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("default serviceaccount: %v", err)
	}
	cm, err := env.Set.ConfigMaps("team").Get(env.Ctx, serviceaccount.RootCAConfigMap, metav1.GetOptions{})
	if err != nil || cm.Data[serviceaccount.RootCAKey] != ca || cm.Annotations["kubernetes.io/description"] == "" {
		t.Fatalf("root CA configmap: %+v %v", cm, err)
	}

	// Deleted or edited, both come back as they were.
	if err := env.Set.ServiceAccounts("team").Delete(env.Ctx, "default", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	cm.Data[serviceaccount.RootCAKey] = "tampered"
	cm, err = env.Set.ConfigMaps("team").Update(env.Ctx, cm, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	env.Gone(env.Inf.ServiceAccounts(), "team/default")
	env.Cached(env.Inf.ConfigMaps(), cm)
	if err := c.Sync(env.Ctx, "team"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Set.ServiceAccounts("team").Get(env.Ctx, "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("default serviceaccount not recreated: %v", err)
	}
	cm, err = env.Set.ConfigMaps("team").Get(env.Ctx, serviceaccount.RootCAConfigMap, metav1.GetOptions{})
	if err != nil || cm.Data[serviceaccount.RootCAKey] != ca {
		t.Fatalf("root CA not restored: %v %v", cm.Data, err)
	}
}
