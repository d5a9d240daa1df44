import { z } from 'zod';

/** models.FrontendAddress / BackendAddress (cilium-dbg service list -o json); unknown keys allowed. */
export const FrontendAddressSchema = z.looseObject({
  ip: z.string().optional(),
  port: z.number().int().min(0).max(65535).optional(),
  protocol: z.string().optional(),
  scope: z.string().optional(),
});

export const BackendAddressSchema = z.looseObject({
  ip: z.string(),
  port: z.number().int().min(0).max(65535).optional(),
  protocol: z.string().optional(),
  state: z.string().optional(),
  nodeName: z.string().optional(),
  zone: z.string().optional(),
  weight: z.number().optional(),
  preferred: z.boolean().optional(),
});

export const ServiceSpecSchema = z.looseObject({
  id: z.number().int().min(0).max(0xffffffff).optional(),
  'frontend-address': FrontendAddressSchema,
  'backend-addresses': z.array(z.unknown()).optional().nullable(),
  flags: z
    .looseObject({
      type: z.string().optional(),
      trafficPolicy: z.string().optional(),
      extTrafficPolicy: z.string().optional(),
      intTrafficPolicy: z.string().optional(),
      name: z.string().optional(),
      namespace: z.string().optional(),
      natPolicy: z.string().optional(),
      cluster: z.string().optional(),
      healthCheckNodePort: z.number().optional(),
    })
    .optional(),
});

export const ServiceSchema = z.looseObject({
  spec: ServiceSpecSchema.optional(),
  status: z.looseObject({ realized: ServiceSpecSchema.optional() }).optional(),
});

export type ServiceSpecJson = z.infer<typeof ServiceSpecSchema>;
