/**
 * Security descriptors (SDDL) for mutexes that another account could have created.
 * No koffi here, so Linux-side tests can name them (restricted-mutex.ts applies them).
 */

/** Nobody (not even the creator, beyond its owner rights) may wait on or release it. */
export const SDDL_NO_ACCESS = 'D:';
/** Everyone may wait, release and query: exactly what the engine asks for (SYNCHRONIZE | MUTEX_MODIFY_STATE). */
export const SDDL_LEAST_ACCESS = 'D:(A;;0x100001;;;WD)';
