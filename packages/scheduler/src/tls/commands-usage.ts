// What `drover-scheduler --help` says about the local identity commands (tls/commands.ts).
export const TLS_COMMANDS_USAGE = `commands (on a scheduler host; the database from DROVER_DATABASE_URL):
  drover-scheduler ca create --dir DIR                      a new cluster CA (ca.pem, ca-key.pem) in DIR
  drover-scheduler join-token create [--name NODE] [--ttl 24h]
                                                            a one-time join token for an agent (DROVER_JOIN_TOKEN)
  drover-scheduler cert revoke (--node NODE | --serial HEX) refuse a node's certificates, or one certificate
                                                            (a node's or a scheduler's: each logs its serial) from now on
  drover-scheduler token create --role admin [--project P] [--description TEXT] [--ttl 30d]
                                                            an API token (the first admin's): the secret on stdout, once`;
