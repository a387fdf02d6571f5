// The systemd unit that runs the built gateway as an unprivileged user: it may bind
// port 25 (CAP_NET_BIND_SERVICE and nothing else), sees the filesystem read-only except
// its data directory, and logs to the journal (pino writes JSON lines to stdout).
export interface UnitOptions {
  /** Absolute path of node. */
  node: string;
  /** Absolute path of bin/hermes.js. */
  hermesBin: string;
  /** Absolute data directory (hermes.json, database, spool...). */
  dataDir: string;
  user: string;
  group?: string;
  /** Directories outside dataDir the gateway writes to (storage tiers placed elsewhere). */
  extraWritablePaths?: string[];
}

const quote = (s: string) => (/^[A-Za-z0-9_./:@+-]+$/.test(s) ? s : `"${s.replace(/(["\\])/g, '\\$1')}"`);

export function systemdUnit(o: UnitOptions): string {
  const writable = [o.dataDir, ...(o.extraWritablePaths ?? []).filter((p) => !p.startsWith(`${o.dataDir}/`) && p !== o.dataDir)];
  return `# Hermes SEG, written by "hermes install-service".
[Unit]
Description=Hermes SEG secure email gateway
Documentation=file://${o.hermesBin.replace(/bin\/hermes\.js$/, 'docs/admin-guide.md')}
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User=${o.user}
Group=${o.group ?? o.user}
ExecStart=${quote(o.node)} ${quote(o.hermesBin)} start --data-dir ${quote(o.dataDir)}
Environment=NODE_ENV=production
# SIGTERM: the gateway stops taking sessions and lets running ones finish.
KillSignal=SIGTERM
TimeoutStopSec=30
Restart=on-failure
RestartSec=5
StandardOutput=journal
StandardError=journal
SyslogIdentifier=hermes
# Bind ports below 1024 without running as root; no other privilege.
AmbientCapabilities=CAP_NET_BIND_SERVICE
CapabilityBoundingSet=CAP_NET_BIND_SERVICE
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=${writable.map(quote).join(' ')}
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictSUIDSGID=yes
LockPersonality=yes
UMask=0027
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`;
}
