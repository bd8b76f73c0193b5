/** The role an API token carries; what each may do is decided by the use cases (`requireRole`). */
export type ApiRole = 'admin' | 'security' | 'ci' | 'auditor';
export const API_ROLES: readonly ApiRole[] = ['admin', 'security', 'ci', 'auditor'];
