//! JSON values ↔ Python objects. gaze-core's configuration and reports are serde types; the
//! binding moves them through `serde_json::Value` so Python sees plain dicts and lists.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

use crate::error::BindingError;

/// Turns a JSON value into the matching Python object (dict, list, str, int, float, bool, None).
pub fn value_to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(value_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, value_to_py(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// Serialises any serde type into a Python object, through JSON text so numbers read
/// exactly as a JSON client of the server sees them (an `f32` 0.1 stays 0.1).
pub fn to_py<'py, T: serde::Serialize>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    let json: Value = serde_json::to_string(value)
        .and_then(|text| serde_json::from_str(&text))
        .map_err(crate::error::core_err)?;
    value_to_py(py, &json)
}

/// Turns a Python object made of dicts, lists, tuples, str, int, float, bool and None into a
/// JSON value. Non-finite floats and other types are rejected with a message naming `path`.
pub fn py_to_value(obj: &Bound<'_, PyAny>, path: &str) -> Result<Value, BindingError> {
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.cast::<PyInt>().is_ok() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(BindingError::value_error(format!(
            "{path}: integer out of range"
        )));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        let v = f.value();
        return Number::from_f64(v).map(Value::Number).ok_or_else(|| {
            BindingError::value_error(format!("{path}: must be a finite number, got {v}"))
        });
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_string()));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut map = Map::new();
        for (k, v) in d.iter() {
            let key: String = k
                .extract()
                .map_err(|_| BindingError::type_error(format!("{path}: keys must be str")))?;
            let child = py_to_value(&v, &format!("{path}.{key}"))?;
            map.insert(key, child);
        }
        return Ok(Value::Object(map));
    }
    if obj.cast::<PyList>().is_ok() || obj.cast::<PyTuple>().is_ok() {
        let mut out = Vec::new();
        for (i, item) in obj
            .try_iter()
            .map_err(|e| BindingError::type_error(e.to_string()))?
            .enumerate()
        {
            let item = item.map_err(|e| BindingError::type_error(e.to_string()))?;
            out.push(py_to_value(&item, &format!("{path}[{i}]"))?);
        }
        return Ok(Value::Array(out));
    }
    // numpy scalars and other number-likes.
    if let Ok(v) = obj.extract::<f64>() {
        return Number::from_f64(v).map(Value::Number).ok_or_else(|| {
            BindingError::value_error(format!("{path}: must be a finite number, got {v}"))
        });
    }
    let type_name = obj
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into());
    Err(BindingError::type_error(format!(
        "{path}: unsupported type {type_name}"
    )))
}

/// Builds a serde config from keyword arguments: keys must exist in `T::default()`'s JSON
/// (so a typo is a `TypeError`, not silently ignored) and values must have the right types.
pub fn config_from_kwargs<T>(
    kwargs: Option<&Bound<'_, PyDict>>,
    what: &str,
) -> Result<T, BindingError>
where
    T: serde::Serialize + serde::de::DeserializeOwned + Default,
{
    let Some(kwargs) = kwargs else {
        return Ok(T::default());
    };
    let defaults = serde_json::to_value(T::default()).map_err(gaze_activity::Error::from)?;
    let Value::Object(mut merged) = defaults else {
        return Err(BindingError::value_error(format!(
            "{what}: configuration is not an object"
        )));
    };
    for (k, v) in kwargs.iter() {
        let key: String = k
            .extract()
            .map_err(|_| BindingError::type_error(format!("{what}: keyword names must be str")))?;
        let Some(slot) = merged.get_mut(&key) else {
            let known: Vec<&str> = merged.keys().map(String::as_str).collect();
            return Err(BindingError::type_error(format!(
                "{what}() got an unexpected keyword argument '{key}' (known: {})",
                known.join(", ")
            )));
        };
        let value = py_to_value(&v, &key)?;
        merge(slot, value, &key)?;
    }
    serde_json::from_value(Value::Object(merged))
        .map_err(|e| BindingError::value_error(format!("{what}: {e}")))
}

/// Overlays `given` on `base`: objects merge key by key (unknown keys are an error), anything
/// else replaces.
fn merge(base: &mut Value, given: Value, path: &str) -> Result<(), BindingError> {
    match (base, given) {
        (Value::Object(base), Value::Object(given)) => {
            for (k, v) in given {
                let child = format!("{path}.{k}");
                match base.get_mut(&k) {
                    Some(slot) => merge(slot, v, &child)?,
                    None => {
                        let known: Vec<&str> = base.keys().map(String::as_str).collect();
                        return Err(BindingError::type_error(format!(
                            "unknown setting '{child}' (known: {})",
                            known.join(", ")
                        )));
                    }
                }
            }
            Ok(())
        }
        (slot, given) => {
            *slot = given;
            Ok(())
        }
    }
}
