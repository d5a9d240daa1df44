import { z } from 'zod';

const str = z.string().max(4096);
const u32 = z.number().int().nonnegative().max(0xffffffff);

/** `cilium-dbg status -o json` (models.StatusResponse): only the keys the datapath depends on. */
export const statusJsonSchema = z.looseObject({
  'kube-proxy-replacement': z
    .looseObject({
      mode: str.optional(),
      devices: z.array(str).max(1024).optional(),
      deviceList: z
        .array(z.looseObject({ name: str, ip: z.array(str).max(1024).optional() }))
        .max(1024)
        .optional(),
      directRoutingDevice: str.optional(),
      features: z
        .looseObject({
          socketLB: z.looseObject({ enabled: z.boolean().optional() }).optional(),
          bpfSocketLBHostnsOnly: z.boolean().optional(),
          nodePort: z
            .looseObject({
              enabled: z.boolean().optional(),
              mode: str.optional(),
              algorithm: str.optional(),
              acceleration: str.optional(),
              dsrMode: str.optional(),
            })
            .optional(),
          nat46X64: z
            .looseObject({
              enabled: z.boolean().optional(),
              service: z.looseObject({ enabled: z.boolean().optional() }).optional(),
            })
            .optional(),
        })
        .optional(),
    })
    .optional(),
  // v1.16+
  routing: z
    .looseObject({
      'inter-host-routing-mode': str.optional(),
      'intra-host-routing-mode': str.optional(),
      'tunnel-protocol': str.optional(),
    })
    .optional(),
  // ≤ v1.15
  'host-routing': z.looseObject({ mode: str.optional() }).optional(),
  'attach-mode': str.optional(),
  'datapath-mode': str.optional(),
  masquerading: z
    .looseObject({
      enabled: z.boolean().optional(),
      enabledProtocols: z.looseObject({ ipv4: z.boolean().optional(), ipv6: z.boolean().optional() }).optional(),
      mode: str.optional(),
      'ip-masq-agent': z.boolean().optional(),
      'snat-exclusion-cidr': str.optional(),
      'snat-exclusion-cidr-v4': str.optional(),
      'snat-exclusion-cidr-v6': str.optional(),
    })
    .optional(),
});
export type StatusJson = z.infer<typeof statusJsonSchema>;

/** One models.Endpoint of `cilium-dbg endpoint list -o json` / `endpoint get ID`. */
export const endpointSchema = z.looseObject({
  id: u32,
  status: z
    .looseObject({
      state: str.optional(),
      identity: z.looseObject({ id: u32.optional(), labels: z.array(str).max(1024).optional() }).optional(),
      labels: z.looseObject({ 'security-relevant': z.array(str).max(1024).optional() }).optional(),
      'external-identifiers': z
        .looseObject({ 'k8s-pod-name': str.optional(), 'k8s-namespace': str.optional(), 'pod-name': str.optional() })
        .optional(),
      networking: z
        .looseObject({
          addressing: z
            .array(z.looseObject({ ipv4: str.optional(), ipv6: str.optional() }))
            .max(64)
            .optional(),
          'interface-name': str.optional(),
          'interface-index': u32.optional(),
        })
        .optional(),
    })
    .optional(),
});

/** The `cilium-config` ConfigMap, `kubectl get cm cilium-config -o json|yaml`: its `data` map. */
export const configMapSchema = z.looseObject({
  kind: str.optional(),
  data: z.record(z.string().max(253), z.unknown()),
});
