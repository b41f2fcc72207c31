// Command local-aws serves the AWS APIs the plugin uses on a loopback address.
package main

func main() {}
