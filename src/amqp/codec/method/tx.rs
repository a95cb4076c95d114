//! Class `tx` (90): standard transactions.

use super::define::define_method;

define_method! {
    TxSelect(90, 10, "tx.select") {}
}

define_method! {
    TxSelectOk(90, 11, "tx.select-ok") from server {}
}

define_method! {
    TxCommit(90, 20, "tx.commit") {}
}

define_method! {
    TxCommitOk(90, 21, "tx.commit-ok") from server {}
}

define_method! {
    TxRollback(90, 30, "tx.rollback") {}
}

define_method! {
    TxRollbackOk(90, 31, "tx.rollback-ok") from server {}
}
