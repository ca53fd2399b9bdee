/**
 * `generation`, `observedGeneration`, `reconciling`, `terminalCondition` and `conditions` of
 * Service and Revision as the v2 protos document them (service.proto, `reconciling`; condition.proto),
 * read with the real @google-cloud/run client through a deploy, a traffic update and a failed deploy,
 * while each operation is still running and after it ends.
 */
import { describe, expect, it } from 'vitest';
import type { protos } from '@google-cloud/run';
import { NO_RETRY, codeOf, plain, useEmulator } from './emulator-fixtures.js';

type IService = protos.google.cloud.run.v2.IService;
type ICondition = protos.google.cloud.run.v2.ICondition;

const PARENT = 'projects/demo/locations/us-central1';
const NAME = `${PARENT}/services/hotel`;
const IMAGE = 'example.test/app:latest';
const SLOW_MS = 1500;

const fx = useEmulator('emulator-conditions');

const get = async (): Promise<IService> => plain((await fx.api.services.getService({ name: NAME }, NO_RETRY))[0]);
const cond = (svc: IService, type: string): ICondition | undefined => svc.conditions?.find((c) => c.type === type);
const short = (name: string | null | undefined) => (name ?? '').split('/').pop() ?? '';
const revision = async (name: string) => plain((await fx.api.revisions.getRevision({ name: `${NAME}/revisions/${name}` }, NO_RETRY))[0]);

/** While the operation runs: reconciling, the generation ahead of observedGeneration, the Ready condition reconciling. */
function expectReconciling(svc: IService, generation: number, observed: number): void {
  expect(svc.reconciling).toBe(true);
  expect(svc.generation).toBe(String(generation));
  expect(svc.observedGeneration).toBe(String(observed));
  expect(svc.terminalCondition).toMatchObject({ type: 'Ready', state: 'CONDITION_RECONCILING' });
}

describe('reconciliation state', () => {
  it('follows a deploy, a traffic update and a failed deploy as the v2 protos describe', async () => {
    // 1. A deploy (the service's creation).
    fx.emu.faults.slowOperations(SLOW_MS, 1);
    const [createOp] = await fx.api.services.createService({ parent: PARENT, serviceId: 'hotel', service: { template: { containers: [{ image: IMAGE }] } } }, NO_RETRY);
    const during = await get();
    expectReconciling(during, 1, 0);
    expect(cond(during, 'RoutesReady')?.state).toBe('CONDITION_RECONCILING');
    expect(cond(during, 'ConfigurationsReady')?.state).toBe('CONDITION_RECONCILING');
    await createOp.promise();
    const deployed = await get();
    expect(deployed.reconciling).toBe(false);
    expect(deployed.observedGeneration).toBe('1');
    expect(deployed.terminalCondition).toMatchObject({ type: 'Ready', state: 'CONDITION_SUCCEEDED' });
    expect(deployed.terminalCondition?.reason ?? 'COMMON_REASON_UNDEFINED').toBe('COMMON_REASON_UNDEFINED'); // "Successful conditions cannot have a reason."
    expect(cond(deployed, 'RoutesReady')?.state).toBe('CONDITION_SUCCEEDED');
    expect(cond(deployed, 'ConfigurationsReady')?.state).toBe('CONDITION_SUCCEEDED');
    // Reconciliation succeeded: latest_ready_revision matches latest_created_revision, traffic_statuses the traffic.
    expect(deployed.latestReadyRevision).toBe(deployed.latestCreatedRevision);
    const first = short(deployed.latestReadyRevision);
    expect(deployed.trafficStatuses?.map((t) => [t.type, t.revision, t.percent])).toEqual([['TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', first, 100]]);
    const rev1 = await revision(first);
    expect(rev1.reconciling).toBe(false);
    expect(rev1.observedGeneration).toBe(rev1.generation);
    expect(rev1.conditions?.find((c) => c.type === 'Ready')?.state).toBe('CONDITION_SUCCEEDED');

    // 2. A traffic update (no new revision): only the routes reconcile.
    fx.emu.faults.slowOperations(SLOW_MS, 1);
    const traffic = [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION' as const, revision: first, percent: 100, tag: 'stable' }];
    const [trafficOp] = await fx.api.services.updateService({ service: { name: NAME, traffic }, updateMask: { paths: ['traffic'] } }, NO_RETRY);
    const shifting = await get();
    expectReconciling(shifting, 2, 1);
    expect(cond(shifting, 'RoutesReady')?.state).toBe('CONDITION_RECONCILING');
    expect(cond(shifting, 'ConfigurationsReady')).toEqual(cond(deployed, 'ConfigurationsReady'));
    await trafficOp.promise();
    const shifted = await get();
    expect(shifted.reconciling).toBe(false);
    expect(shifted.observedGeneration).toBe('2');
    expect(shifted.terminalCondition?.state).toBe('CONDITION_SUCCEEDED');
    expect(shifted.trafficStatuses?.map((t) => [t.revision, t.percent, t.tag])).toEqual([[first, 100, 'stable']]);
    // A condition whose state did not change keeps the time of its last transition.
    expect(cond(shifted, 'ConfigurationsReady')?.lastTransitionTime).toEqual(cond(deployed, 'ConfigurationsReady')?.lastTransitionTime);

    // 3. A failed deploy: a revision that exits before listening.
    const bad = { containers: [{ image: IMAGE, env: [{ name: 'CRASH', value: '1' }] }] };
    const [failOp] = await fx.api.services.updateService({ service: { name: NAME, template: bad }, updateMask: { paths: ['template'] } }, NO_RETRY);
    const err = await codeOf(failOp.promise());
    expect(err.code).toBe(9);
    const failed = await get();
    expect(failed.reconciling).toBe(false);
    expect(failed.generation).toBe('3');
    // "If reconciliation failed, traffic_statuses, observed_generation, and latest_ready_revision will
    // have the state of the last serving revision."
    expect(failed.observedGeneration).toBe('2');
    expect(short(failed.latestReadyRevision)).toBe(first);
    expect(failed.trafficStatuses).toEqual(shifted.trafficStatuses);
    expect(short(failed.latestCreatedRevision)).not.toBe(first);
    expect(failed.terminalCondition).toMatchObject({ type: 'Ready', state: 'CONDITION_FAILED', severity: 'ERROR', reason: 'REVISION_FAILED' });
    expect(failed.terminalCondition?.message).toBe(err.message);
    expect(cond(failed, 'ConfigurationsReady')).toMatchObject({ state: 'CONDITION_FAILED', reason: 'REVISION_FAILED' });
    const rev2 = await revision(short(failed.latestCreatedRevision));
    expect(rev2.reconciling).toBe(false);
    expect(rev2.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ state: 'CONDITION_FAILED', severity: 'ERROR', revisionReason: 'HEALTH_CHECK_CONTAINER_ERROR' });
  });
});
