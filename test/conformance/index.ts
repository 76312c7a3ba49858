/** Every conformance case, registered in a fixed order. */
import "./echo.ts"
import "./handoff.ts"
import "./framing.ts"
import "./policy.ts"
import "./address.ts"
import "./faults.ts"
import "./lifetime.ts"
import "./credentials.ts"
import "./datagram.ts"
import "./interop.ts"
import "./readme.ts"

export { cases } from "./harness.ts"
