package main

import (
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	_ "github.com/charmbracelet/lipgloss"
	_ "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/spf13/cobra"
	_ "k8s.io/cli-runtime/pkg/genericclioptions"
	_ "k8s.io/client-go/kubernetes"
	_ "k8s.io/kube-openapi/pkg/validation/validate"
	_ "k8s.io/kubectl/pkg/polymorphichelpers"
	_ "sigs.k8s.io/kustomize/api/krusty"
)

func main() {}
