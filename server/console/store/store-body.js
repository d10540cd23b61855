// The body of PUT /v1/admin/stores/:storeId from what GET /v1/admin/stores/:storeId returned: a PUT
// replaces the whole store (zones, hours, floor plan, beacons), so a page that changes one part sends
// the others back as they were. Only the fields the PUT accepts are copied.

/** The PUT body for a store, with `changes` (name, timezone, zones, openingHours, quietHours, beacons) applied. */
export function storeBody(store, changes = {}) {
  const merged = { ...store, ...changes };
  const body = {
    name: merged.name,
    timezone: merged.timezone,
    zones: (merged.zones ?? []).map((z) => ({
      id: z.id, name: z.name, sensitive: z.sensitive === true,
      ...(z.polygon ? { polygon: z.polygon } : {}),
    })),
    beacons: (merged.beacons ?? []).map((b) => ({ id: b.id, zoneId: b.zoneId, uuid: b.uuid, major: b.major, minor: b.minor })),
  };
  if (merged.openingHours && merged.openingHours.length > 0) body.openingHours = merged.openingHours;
  if (merged.quietHours && merged.quietHours.length > 0) body.quietHours = merged.quietHours;
  if (merged.floorPlan) body.floorPlan = merged.floorPlan;
  return body;
}

/** Weekly windows as one line: "mon, tue 09:00–18:00; sat 10:00–13:00". */
export function windowsText(windows) {
  if (!windows || windows.length === 0) return null;
  return windows.map((w) => `${w.days.join(', ')} ${w.from}–${w.to}`).join('; ');
}
