//! A chat completion request body, as the router reads it: parsing never panics, and a parsed
//! request's features (the scan of every string, the classifier, the token estimate) never panic
//! either. Whatever the detectors find, the decision keeps the request on the farm.
#![no_main]

use farmhand::config::FleetConfig;
use farmhand::domain::DeclaredClass;
use farmhand::gateway::parse_request;
use farmhand::router::{
    DataClass, DetectorSet, Exposure, FleetView, Overrides, Policy, RequestFeatures, RequestInput, SpendState,
    select,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let Ok((value, request)) = parse_request(body) else {
        return;
    };
    let declared = DeclaredClass::ALL[usize::from(first) % DeclaredClass::ALL.len()];
    let data_class = (first & 0x80 != 0).then_some(DataClass::ALL[usize::from(first >> 4) % DataClass::ALL.len()]);
    let texts: Vec<String> = request.messages.iter().map(|m| m.text()).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let input = RequestInput {
        declared,
        data_class: data_class.filter(|c| c.is_sensitive()),
        agent: "fuzz",
        messages: &refs,
        body: &value,
        tool_count: request.extra.get("tools").and_then(|t| t.as_array()).map_or(0, Vec::len),
        max_tokens: request.max_completion_tokens.or(request.max_tokens),
    };
    let features = RequestFeatures::from_request(&input, DetectorSet::ALL);
    if input.data_class.is_none() && declared != DeclaredClass::Sensitive {
        assert_eq!(features.detector, Exposure::of_request(&value, DetectorSet::ALL).detector);
    }
    let policy = Policy::from_config(&FleetConfig::default());
    let decision = select(
        &features,
        &policy,
        &Overrides::none(1),
        &FleetView::default(),
        &SpendState::default(),
    );
    if features.detector.is_some() || features.unscannable.is_some() || input.data_class.is_some() {
        assert!(decision.is_sensitive(), "{:?} left the farm", features);
    }
});
