// Package api is the contract between a community gateway and the cloud grid case system
// (网格化管理): the request and response types of the gateway endpoints, the request signing
// scheme (HMAC-SHA256 with a per-gateway key, see Sign) and a small client that the gateway's
// uplink uses. It imports nothing from the rest of the repository, so both sides can depend on it.
//
// Endpoints (all JSON, all signed):
//
//	POST /api/v1/alerts                 Alert → Case. Idempotent on (gateway, Alert.AlarmID):
//	                                    201 for a new case, 200 with the same case for a repeat.
//	GET  /api/v1/alerts/{alarm_id}      the case of one of this gateway's alarms.
//	POST /api/v1/gateway/heartbeat      Heartbeat → HeartbeatReply. Three missed intervals
//	                                    mark the gateway offline in the grid centre.
//	GET  /api/v1/gateway/updates?after=N&wait=25s
//	                                    long poll: the state changes (CaseUpdate) of this gateway's
//	                                    cases with Seq > N, oldest first; waits up to wait (≤ 25 s)
//	                                    when there are none and then returns an empty list.
package api
