export { parseBpftoolNet, renderNetAttachment } from './parse-net.js';
export { parseBpftoolProg, renderProgram } from './parse-prog.js';
export { parseBpftoolLink, renderLink } from './parse-link.js';
export { parseBpftoolCgroup, renderCgroupAttachment } from './parse-cgroup.js';
export {
  BPF_LINK_TYPES,
  BPF_ATTACH_TYPES,
  OLD_CGROUP_ATTACH_TYPES,
  linkTypeName,
  attachTypeName,
  cgroupAttachTypeName,
} from './link-types.js';
