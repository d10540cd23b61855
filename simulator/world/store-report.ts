import type { GatewayCalibration } from './calibration.ts';

// What a simulated store day reports: ground truth against what the system detected, and the
// aggregate occupancy heat. Aggregates only: no shopper, track or identifier appears in a report.

export type Ratio = number | null;
export type Percentiles = { p50: number | null; p99: number | null; samples: number };

/**
 * Detected transitions of one kind against the ground truth's, matched one to one within the tolerance:
 * `matched` of the `truth` visits were detected (recall); precision is the share of the detections that
 * match a true edge, a pass-through shorter than a visit included (presence-scoring.ts).
 */
export type EdgeScore = { truth: number; detected: number; matched: number; precision: Ratio; recall: Ratio };

export type ZoneReport = {
  id: string;
  name: string;
  sensitive: boolean;
  /** At least one gateway serves this zone, so the system can detect it. */
  instrumented: boolean;
  /** Ground-truth visits (stays of at least the minimum visit) and the visits the system detected. */
  truthVisits: number;
  detectedVisits: number;
  /** Shopper-seconds spent in the zone (ground truth). */
  occupancyS: number;
};

/** Shopper-seconds per cell of the floor plan; a cell fewer than minShoppers distinct shoppers visited is suppressed (null). */
export type HeatGrid = { cellM: number; columns: number; rows: number; minShoppers: number; seconds: (number | null)[] };

/** Promotions in a day run against a server (live mode). */
export type PromotionReport = {
  delivered: number;
  /** Promotions an app showed without promotions consent at the time they were issued: must be 0. */
  toNonConsenting: number;
  /** From the advertisement that caused it to the app, ms. */
  latencyMs: Percentiles;
  redemptions: { attempted: number; redeemed: number; refused: Record<string, number> };
  /** Store-beacon sightings the iOS apps in the background reported through the API, and how many the server refused. */
  iosSightings: { reported: number; refused: number };
};

export type StoreDayReport = {
  scenario: { name: string; seed: number; storeId: string; date: string; timezone: string; startLocal: string; simulatedS: number };
  run: { clock: 'virtual' | 'real'; wallMs: number; speedup: number; cpuMs: number };
  population: {
    arrivals: number;
    withApp: number;
    byPlatform: { android: number; iosForeground: number; iosBackground: number; loyaltyBeacon: number };
    consented: { presence: number; promotions: number; personalisation: number; analytics: number };
    /** Shoppers the radio system can follow (presence consent and something that advertises): the accuracy population. */
    tracked: number;
    /** Their time in the store, hours. */
    trackedHours: number;
    withdrew: number;
  };
  radio: { emitted: number; received: number; lost: number; byGateway: Record<string, number>; foreignEmitted: number; spamEmitted: number };
  gateways: { advertisements: number; dropped: Record<string, number>; events: number };
  /** The presence settings derived from the floor plan for each gateway that had none of its own (calibration.ts). */
  calibration: GatewayCalibration[];
  presence: {
    toleranceS: number;
    minVisitS: number;
    enters: EdgeScore;
    exits: EdgeScore;
    /** Share of the seconds the system placed a tracked shopper in a zone that the shopper was truly in it (within the tolerance). */
    zoneAccuracy: Ratio;
    zoneSeconds: { detected: number; correct: number; wrongZone: number; notInAnyZone: number; missed: number };
    /** Ground-truth entry to the detected entry, seconds, over matched entries. */
    enterLatencyS: Percentiles;
    exitLatencyS: Percentiles;
    flaps: number;
    flapsPerShopperHour: Ratio;
  };
  zones: ZoneReport[];
  heat: HeatGrid;
  /** Only when the day ran against a server. */
  promotions?: PromotionReport;
};
