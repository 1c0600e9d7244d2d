//! Task classes: what kind of thinking an agent asks for.

use super::wire_enum;

/// The class a request is routed as (its effective class).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskClass {
    /// Extraction, classification, short drafts: stays local while small.
    Routine,
    /// Multi-step or ambiguous work: frontier by default.
    Reasoning,
    /// Planning and delegation: frontier by default.
    Orchestration,
    /// Must never leave the farm.
    Sensitive,
}

wire_enum!(TaskClass, "task class", {
    Routine => "routine",
    Reasoning => "reasoning",
    Orchestration => "orchestration",
    Sensitive => "sensitive",
});

/// The class an agent declared: a task class, or `auto` to let the router classify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeclaredClass {
    /// The router classifies the request itself.
    Auto,
    /// Extraction, classification, short drafts.
    Routine,
    /// Multi-step or ambiguous work.
    Reasoning,
    /// Planning and delegation.
    Orchestration,
    /// Must never leave the farm.
    Sensitive,
}

wire_enum!(DeclaredClass, "task class", {
    Auto => "auto",
    Routine => "routine",
    Reasoning => "reasoning",
    Orchestration => "orchestration",
    Sensitive => "sensitive",
});

impl DeclaredClass {
    /// The task class this declaration names, or `None` for `auto`.
    pub fn class(self) -> Option<TaskClass> {
        match self {
            DeclaredClass::Auto => None,
            DeclaredClass::Routine => Some(TaskClass::Routine),
            DeclaredClass::Reasoning => Some(TaskClass::Reasoning),
            DeclaredClass::Orchestration => Some(TaskClass::Orchestration),
            DeclaredClass::Sensitive => Some(TaskClass::Sensitive),
        }
    }
}

impl From<TaskClass> for DeclaredClass {
    fn from(class: TaskClass) -> Self {
        match class {
            TaskClass::Routine => DeclaredClass::Routine,
            TaskClass::Reasoning => DeclaredClass::Reasoning,
            TaskClass::Orchestration => DeclaredClass::Orchestration,
            TaskClass::Sensitive => DeclaredClass::Sensitive,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for class in DeclaredClass::ALL {
            assert_eq!(class.as_str().parse::<DeclaredClass>(), Ok(*class));
        }
        for class in TaskClass::ALL {
            assert_eq!(DeclaredClass::from(*class).class(), Some(*class));
        }
    }

    #[test]
    fn unknown_class_names_the_choices() {
        let err = "gpt-4o".parse::<TaskClass>().unwrap_err();
        assert!(err.to_string().contains("routine"), "{err}");
        assert!(err.to_string().contains("gpt-4o"), "{err}");
    }
}
