//! The calls of each world: decode and encode for gates and POS terminals, order pushes,
//! bill lines, payouts. The device adapters' calls run on warm instances (`call_warm!`),
//! the others on a fresh instance each (`call_plugin!`).

use std::time::Instant;

use super::{
    DecodeError, FailureKind, Kind, Loaded, PluginError, World, bindings, connector, convert, warm,
};
use venue_model::scan::{Scan, Verdict};

impl Loaded {
    /// gate-adapter: decodes a turnstile's payload.
    pub async fn decode_scan(
        &self,
        device: &str,
        payload: &[u8],
    ) -> Result<Result<Scan, DecodeError>, PluginError> {
        let Kind::Gate(pre, pool) = &self.kind else {
            return Err(self.wrong_world(World::GateAdapter));
        };
        let raw = call_warm!(self, pre, pool, |store, inst| inst
            .venue_edge_gate()
            .call_decode_scan(&mut *store, device, payload))?;
        Ok(match raw {
            Ok(scan) => convert::scan_from_wit(scan),
            Err(e) => Err(convert::decode_error_from_wit(e)),
        })
    }

    /// gate-adapter: encodes a verdict for the turnstile.
    pub async fn encode_verdict(
        &self,
        device: &str,
        verdict: &Verdict,
    ) -> Result<Vec<u8>, PluginError> {
        let Kind::Gate(pre, pool) = &self.kind else {
            return Err(self.wrong_world(World::GateAdapter));
        };
        let wit = convert::verdict_to_wit(verdict);
        let raw = call_warm!(self, pre, pool, |store, inst| inst
            .venue_edge_gate()
            .call_encode_verdict(&mut *store, device, &wit))?;
        raw.map_err(|message| {
            self.failed(
                FailureKind::BadOutput,
                format!("encode-verdict refused: {message}"),
            )
        })
    }

    /// gate-adapter: encodes a whitelist delta for the turnstile.
    pub async fn encode_whitelist(
        &self,
        device: &str,
        delta: &convert::Delta,
    ) -> Result<Vec<u8>, PluginError> {
        let Kind::Gate(pre, pool) = &self.kind else {
            return Err(self.wrong_world(World::GateAdapter));
        };
        let wit = convert::delta_to_wit(delta);
        let raw = call_warm!(self, pre, pool, |store, inst| inst
            .venue_edge_gate()
            .call_encode_whitelist(&mut *store, device, &wit))?;
        raw.map_err(|message| {
            self.failed(
                FailureKind::BadOutput,
                format!("encode-whitelist refused: {message}"),
            )
        })
    }

    /// pos-adapter: decodes a POS terminal's payload into the unified sale.
    pub async fn decode_sale(
        &self,
        device: &str,
        payload: &[u8],
    ) -> Result<Result<venue_model::sale::Sale, DecodeError>, PluginError> {
        let raw = match &self.kind {
            Kind::Pos(pre, pool) => call_warm!(self, pre, pool, |store, inst| inst
                .venue_edge_pos()
                .call_decode_sale(&mut *store, device, payload))?,
            Kind::Pos1_0(pre, pool) => call_warm!(self, pre, pool, |store, inst| inst
                .venue_edge_pos()
                .call_decode_sale(&mut *store, device, payload))?
            .map(convert::sale_from_wit_1_0)
            .map_err(convert::decode_error_from_wit_1_0),
            _ => return Err(self.wrong_world(World::PosAdapter)),
        };
        Ok(match raw {
            Ok(sale) => convert::sale_from_wit(sale),
            Err(e) => Err(convert::decode_error_from_wit(e)),
        })
    }

    /// pos-adapter: encodes an acknowledgement for the POS terminal.
    pub async fn encode_ack(
        &self,
        device: &str,
        ack: &venue_model::sale::Ack,
    ) -> Result<Vec<u8>, PluginError> {
        let raw = match &self.kind {
            Kind::Pos(pre, pool) => {
                let wit = convert::ack_to_wit(ack);
                call_warm!(self, pre, pool, |store, inst| inst
                    .venue_edge_pos()
                    .call_encode_ack(&mut *store, device, &wit))?
            }
            Kind::Pos1_0(pre, pool) => {
                let wit = convert::ack_to_wit_1_0(ack);
                call_warm!(self, pre, pool, |store, inst| inst
                    .venue_edge_pos()
                    .call_encode_ack(&mut *store, device, &wit))?
            }
            _ => return Err(self.wrong_world(World::PosAdapter)),
        };
        raw.map_err(|message| {
            self.failed(
                FailureKind::BadOutput,
                format!("encode-ack refused: {message}"),
            )
        })
    }

    /// settlement-rule: bill lines for a contract's cycle.
    pub async fn compute_lines(
        &self,
        input: &venue_model::contract::PluginInput,
    ) -> Result<Vec<venue_model::contract::Line>, PluginError> {
        let Kind::Settlement(pre) = &self.kind else {
            return Err(self.wrong_world(World::SettlementRule));
        };
        let (contract, wit_input) = convert::settlement_input_to_wit(input);
        let raw = call_plugin!(self, pre, |store, inst| inst
            .venue_edge_rules()
            .call_compute_lines(&mut store, &contract, &wit_input))?;
        raw.map(|lines| lines.into_iter().map(convert::line_from_wit).collect())
            .map_err(|message| {
                self.failed(
                    FailureKind::BadOutput,
                    format!("compute-lines refused: {message}"),
                )
            })
    }

    /// payment-connector: the request that pays `payout`.
    pub async fn build_payout(
        &self,
        payout: &bindings::types::Payout,
    ) -> Result<connector::HttpRequest, PluginError> {
        let Kind::Payment(pre) = &self.kind else {
            return Err(self.wrong_world(World::PaymentConnector));
        };
        let raw = call_plugin!(self, pre, |store, inst| inst
            .venue_edge_connector()
            .call_build_payout(&mut store, payout))?;
        raw.map_err(|m| self.failed(FailureKind::BadOutput, format!("build-payout refused: {m}")))
    }

    /// payment-connector: the request that asks for `payout`'s status.
    pub async fn build_status_query(
        &self,
        payout: &bindings::types::Payout,
    ) -> Result<connector::HttpRequest, PluginError> {
        let Kind::Payment(pre) = &self.kind else {
            return Err(self.wrong_world(World::PaymentConnector));
        };
        let raw = call_plugin!(self, pre, |store, inst| inst
            .venue_edge_connector()
            .call_build_status_query(&mut store, payout))?;
        raw.map_err(|m| {
            self.failed(
                FailureKind::BadOutput,
                format!("build-status-query refused: {m}"),
            )
        })
    }

    /// payment-connector: what the provider's response says.
    pub async fn read_response(
        &self,
        payout: &bindings::types::Payout,
        response: &connector::HttpResponse,
    ) -> Result<connector::PayoutStatus, PluginError> {
        let Kind::Payment(pre) = &self.kind else {
            return Err(self.wrong_world(World::PaymentConnector));
        };
        let raw = call_plugin!(self, pre, |store, inst| inst
            .venue_edge_connector()
            .call_read_response(&mut store, payout, response))?;
        raw.map_err(|m| {
            self.failed(
                FailureKind::BadOutput,
                format!("read-response refused: {m}"),
            )
        })
    }

    /// ticketing-adapter: decodes a partner's order push into the unified order.
    pub async fn decode_order(
        &self,
        payload: &[u8],
        content_type: &str,
    ) -> Result<Result<venue_model::order::OrderRequest, DecodeError>, PluginError> {
        let Kind::Ticketing(pre) = &self.kind else {
            return Err(self.wrong_world(World::TicketingAdapter));
        };
        let raw = call_plugin!(self, pre, |store, inst| inst
            .venue_edge_ticketing()
            .call_decode_order(&mut store, payload, content_type))?;
        Ok(raw
            .map_err(convert::decode_error_from_wit)
            .and_then(convert::order_from_wit))
    }

    /// ticketing-adapter: encodes the venue's confirmation in the partner's format.
    pub async fn encode_confirmation(
        &self,
        order: &venue_model::order::OrderView,
    ) -> Result<Vec<u8>, PluginError> {
        let Kind::Ticketing(pre) = &self.kind else {
            return Err(self.wrong_world(World::TicketingAdapter));
        };
        let wit = convert::confirmation_to_wit(order);
        let raw = call_plugin!(self, pre, |store, inst| inst
            .venue_edge_ticketing()
            .call_encode_confirmation(&mut store, &wit))?;
        raw.map_err(|message| {
            self.failed(
                FailureKind::BadOutput,
                format!("encode-confirmation refused: {message}"),
            )
        })
    }
}
